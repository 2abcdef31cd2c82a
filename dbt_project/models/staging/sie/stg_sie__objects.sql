select file_id, dimension, object as object_id, name as object_name
from {{ raw_source('sie_objects') }}
