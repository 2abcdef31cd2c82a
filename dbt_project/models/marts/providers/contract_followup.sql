-- Contract year × contract area: how many providers were followed up and how they were
-- assessed, the area's overall result (its most severe assessment, from the seed
-- followup_assessments), and its action plans. Every area of the register in force in a
-- follow-up year appears, assessed or not.
with followup as (
    select followup.*, assessments.severity
    from {{ ref('int_contract_followup_current') }} as followup
    left join {{ ref('followup_assessments') }} as assessments using (assessment)
),

plans as (
    select * from {{ ref('action_plans') }}
),

areas_in_force as (
    select years.contract_year, areas.*
    from (select distinct contract_year from followup) as years
    inner join {{ ref('contract_areas') }} as areas
        on areas.valid_from_year <= years.contract_year
        and (areas.valid_to_year is null or areas.valid_to_year >= years.contract_year)
),

assessed as (
    select
        contract_year,
        area_code,
        count(*) as providers_followed_up,
        count(*) filter (where assessment = 'godkänd') as providers_approved,
        count(*) filter (where assessment = 'delvis godkänd') as providers_partly_approved,
        count(*) filter (where assessment = 'ej godkänd') as providers_not_approved,
        arg_max(assessment, severity) as area_result,
        bool_or(hsl_deep_followup) as hsl_deep_followup
    from followup
    group by all
),

-- One entry per distinct latest status: 'fortsätter följas: 1, godkänd: 3'.
area_plans as (
    select
        contract_year,
        area_code,
        cast(sum(plan_count) as bigint) as action_plans,
        cast(sum(open_count) as bigint) as action_plans_open,
        string_agg(latest_status || ': ' || plan_count, ', ' order by latest_status)
            as action_plan_statuses
    from (
        select
            contract_year,
            area_code,
            latest_status,
            count(*) as plan_count,
            count(*) filter (where is_open) as open_count
        from plans
        group by all
    )
    group by all
)

select
    areas_in_force.contract_year,
    areas_in_force.area_code,
    areas_in_force.area_name,
    areas_in_force.service_family,
    areas_in_force.agreement_form,
    coalesce(assessed.providers_followed_up, 0) as providers_followed_up,
    coalesce(assessed.providers_approved, 0) as providers_approved,
    coalesce(assessed.providers_partly_approved, 0) as providers_partly_approved,
    coalesce(assessed.providers_not_approved, 0) as providers_not_approved,
    assessed.area_result,
    coalesce(assessed.providers_approved = assessed.providers_followed_up, false)
        as approved_without_remark,
    coalesce(assessed.hsl_deep_followup, false) as hsl_deep_followup,
    coalesce(area_plans.action_plans, 0) as action_plans,
    coalesce(area_plans.action_plans_open, 0) as action_plans_open,
    area_plans.action_plan_statuses
from areas_in_force
left join assessed using (contract_year, area_code)
left join area_plans using (contract_year, area_code)
