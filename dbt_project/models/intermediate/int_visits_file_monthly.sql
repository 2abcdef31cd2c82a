{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='file_id',
        on_schema_change='fail',
        post_hook=(
            "delete from {{ this }} where file_id not in (select file_id from "
            ~ "{{ source('raw', 'load_log') }} where withdrawn_at is null)"
        ),
    )
}}
-- Home-care visits per visit-log file, provider, unit and month: the one aggregate over the
-- visit rows. Incremental per file: a run aggregates only the files it does not hold yet, or
-- whose number of visits changed (a replay that changed them); the files withdrawn since
-- leave it (post-hook). `dbt build --full-refresh` rebuilds it from all the visits.
-- Month = month of the planned start.
with file_visits as (
    select file_id, count(*) as visits
    from {{ ref('stg_providers__visits') }}
    group by file_id
),

{% if is_incremental() %}
held as (
    select file_id, sum(visits) as visits from {{ this }} group by file_id
),

{% endif %}
files as (
    select f.file_id
    from file_visits as f
    {% if is_incremental() %}
    left join held as h on h.file_id = f.file_id
    where h.visits is distinct from f.visits
    {% endif %}
),

visits as (
    select
        v.file_id,
        v.provider_org_nr,
        v.unit_id,
        v.user_key,
        v.staff_key,
        v.planned_start,
        v.planned_minutes,
        v.actual_start,
        v.actual_end,
        cast(date_trunc('month', v.planned_start) as date) as visit_month
    from {{ ref('stg_providers__visits') }} as v
    where v.file_id in (select file_id from files)
),

per_unit as (
    select
        file_id,
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
    select file_id, provider_org_nr, unit_id, visit_month, user_key,
        count(distinct staff_key) as staff
    from visits
    where day(planned_start) <= 14
    group by all
),

continuity as (
    select file_id, provider_org_nr, unit_id, visit_month, avg(staff) as staff_continuity
    from staff_met
    group by all
)

select per_unit.*, continuity.staff_continuity
from per_unit
left join continuity using (file_id, provider_org_nr, unit_id, visit_month)
