-- Volumes of the latest loaded file of each year: a re-export of a year replaces the earlier.
select
    month_start as month,
    provider_org_nr,
    service,
    visits,
    performed_hours,
    file_id
from {{ ref('stg_health_care_volumes__provider_months') }}
qualify file_id = max(file_id) over (partition by year)
