select
    file_id,
    plan_id,
    contract_year,
    area_code,
    provider_org_nr,
    created as created_on,
    status,
    status_date,
    nullif(trim(comment), '') as comment,
    source_line
from {{ raw_source('action_plans') }}
