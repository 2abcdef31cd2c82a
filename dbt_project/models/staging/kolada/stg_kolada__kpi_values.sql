select
    file_id,
    kpi_id,
    municipality_id,
    ou_id,
    cast(period as integer) as year,
    gender,
    cast(value as double) as value,
    cast("count" as integer) as value_count,
    nullif(status, '') as status,
    coalesce(is_deleted, false) as is_deleted
from {{ raw_source('kolada_values') }}
