select file_id, dimension, object as object_id, name as object_name
from {{ source('raw', 'sie_objects') }}
