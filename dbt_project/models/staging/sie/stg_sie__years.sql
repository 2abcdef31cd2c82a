select file_id, year_index, start_date, end_date
from {{ source('raw', 'sie_years') }}
