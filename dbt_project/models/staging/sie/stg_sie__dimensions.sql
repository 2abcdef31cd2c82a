select file_id, dimension, name as dimension_name, parent_dimension
from {{ raw_source('sie_dimensions') }}
