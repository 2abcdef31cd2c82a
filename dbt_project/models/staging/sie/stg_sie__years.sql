select file_id, year_index, start_date, end_date
from {{ raw_source('sie_years') }}
