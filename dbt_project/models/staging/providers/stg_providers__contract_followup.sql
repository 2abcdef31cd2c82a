select
    file_id,
    contract_year,
    area_code,
    provider_org_nr,
    assessment,
    nullif(trim(remark), '') as remark,
    hsl_deep_followup,
    source_line
from {{ raw_source('contract_followup') }}
