-- One row per action plan with its status history, oldest first.
with history as (
    select * from {{ ref('int_action_plans_current') }}
),

plans as (
    select
        plan_id,
        any_value(contract_year) as contract_year,
        any_value(area_code) as area_code,
        any_value(provider_org_nr) as provider_org_nr,
        min(created_on) as created_on,
        arg_max(status, status_date) as latest_status,
        max(status_date) as latest_status_date,
        arg_max(comment, status_date) as latest_comment,
        count(*) as status_changes,
        string_agg(strftime(status_date, '%Y-%m-%d') || ' ' || status, ' → '
            order by status_date, source_line) as status_history
    from history
    group by plan_id
)

select
    plans.plan_id,
    plans.contract_year,
    plans.area_code,
    areas.area_name,
    plans.provider_org_nr,
    providers.provider_name,
    plans.created_on,
    plans.latest_status,
    plans.latest_status_date,
    statuses.is_open,
    plans.latest_comment,
    cast(plans.status_changes as integer) as status_changes,
    plans.status_history
from plans
left join {{ ref('contract_areas') }} as areas on areas.area_code = plans.area_code
left join {{ ref('providers') }} as providers on providers.org_nr = plans.provider_org_nr
left join {{ ref('action_plan_statuses') }} as statuses on statuses.status = plans.latest_status
