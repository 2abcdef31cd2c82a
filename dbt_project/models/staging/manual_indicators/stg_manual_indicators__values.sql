select
    file_id,
    indicator_id,
    cast(year as integer) as year,
    cast(value as decimal(18, 2)) as value,
    comment,
    reporting_unit,
    source_row
from {{ raw_source('manual_indicator_values') }}
