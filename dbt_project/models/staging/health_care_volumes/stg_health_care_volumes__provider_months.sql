select
    file_id,
    year,
    month,
    make_date(year, month, 1) as month_start,
    provider_org_nr,
    service,
    visits,
    cast(performed_hours as decimal(12, 2)) as performed_hours,
    source_line
from {{ raw_source('health_care_volumes') }}
