{{ config(materialized='table') }}
-- Home-care visits per provider, unit and month, recomputed from the visit logs. A visit log
-- covers one calendar year and is replaced as the year fills up: only the latest loaded file
-- of each year counts. Month = month of the planned start.
with current_files as (
    select year(planned_start) as visit_year, max(file_id) as file_id
    from {{ ref('stg_providers__visits') }}
    group by year(planned_start)
),

visits as (
    select
        v.*,
        cast(date_trunc('month', v.planned_start) as date) as visit_month
    from {{ ref('stg_providers__visits') }} as v
    inner join current_files as f
        on f.file_id = v.file_id and f.visit_year = year(v.planned_start)
),

per_unit as (
    select
        provider_org_nr,
        unit_id,
        visit_month,
        count(*) as visits,
        count(distinct user_key) as users,
        sum(epoch(actual_end - actual_start)) / 3600.0 as performed_hours,
        sum(planned_minutes) / 60.0 as planned_hours
    from visits
    group by all
),

-- Staff continuity: distinct staff each user met on days 1-14 of the month, averaged.
staff_met as (
    select provider_org_nr, unit_id, visit_month, user_key, count(distinct staff_key) as staff
    from visits
    where day(planned_start) <= 14
    group by all
),

continuity as (
    select provider_org_nr, unit_id, visit_month, avg(staff) as staff_continuity
    from staff_met
    group by all
)

select per_unit.*, continuity.staff_continuity
from per_unit
left join continuity using (provider_org_nr, unit_id, visit_month)
