{{ config(materialized='table') }}
-- Home-care visits per provider, unit and month from the visit logs. Yearly files
-- (replaced as the year fills up) and monthly files may cover the same month: for each month,
-- the latest loaded file holding visits in that month counts (docs/contracts/visit_log.md).
-- Built from the per-file aggregates (int_visits_file_monthly, incremental): small.
with by_file as (
    select * from {{ ref('int_visits_file_monthly') }}
),

current_files as (
    select visit_month, max(file_id) as file_id
    from by_file
    group by visit_month
)

select
    by_file.provider_org_nr,
    by_file.unit_id,
    by_file.visit_month,
    by_file.visits,
    by_file.users,
    by_file.performed_hours,
    by_file.planned_hours,
    by_file.staff_continuity
from by_file
inner join current_files using (visit_month, file_id)
