select file_id, dimension, name as dimension_name, parent_dimension
from {{ source('raw', 'sie_dimensions') }}
