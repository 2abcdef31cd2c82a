select
    file_id,
    visit_id,
    provider_org_nr,
    unit_id,
    user_key,
    staff_key,
    planned_start,
    planned_minutes,
    actual_start,
    actual_end,
    service_type
from {{ raw_source('visit_logs') }}
