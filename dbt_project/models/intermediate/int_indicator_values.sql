-- The value of each board indicator (reference.indicator_catalog) per reporting year, from
-- its source: the providers' monthly reports (provider_month), the survey (survey_results),
-- the ledger (cost_per_user), Kolada or the manual-input file. A reporting year shows its data
-- year (reporting year + the catalog's data_year_offset). persons: how many persons the value
-- is about, where known (for the small-cell flag).
with catalog as (
    select * from {{ ref('indicator_catalog') }}
),

provider_month as (
    select * from {{ ref('provider_month') }}
),

-- Yearly sums of the monthly reports per service family. A year whose 12 months are not all
-- reported shows the months it has as its data period.
provider_year as (
    select
        year,
        service_family,
        sum(users) as users,
        sum(users_with_care_plan) as users_with_care_plan,
        -- hours × 100 are whole numbers: the share is then exact before it is rounded
        cast(sum(performed_hours * 100) as hugeint) as performed_centihours,
        cast(sum(granted_hours * 100) as hugeint) as granted_centihours,
        sum(users) / count(distinct report_month) as mean_monthly_users,
        case
            when count(distinct report_month) = 12 then cast(year as varchar)
            else strftime(min(report_month), '%Y-%m') || '–' || strftime(max(report_month), '%Y-%m')
        end as data_period
    from provider_month
    group by year, service_family
),

-- At 31 December: the December reports' users and decisions not executed.
provider_december as (
    select
        year,
        service_family,
        sum(users) as users,
        sum(unexecuted_decisions) as unexecuted_decisions
    from provider_month
    where month(report_month) = 12
    group by year, service_family
),

from_provider_month as (
    -- I03, I04: users with a current care plan ÷ users, over the year's reports
    select
        measures.indicator_id,
        provider_year.year as data_year,
        provider_year.data_period,
        100.0 * provider_year.users_with_care_plan / nullif(provider_year.users, 0) as value,
        provider_year.mean_monthly_users as persons
    from provider_year
    inner join (values ('I03', 'sarskilt_boende'), ('I04', 'hemtjanst'))
        as measures (indicator_id, service_family) using (service_family)
    union all
    -- I07: performed ÷ granted home-care hours, over the year's reports
    select
        'I07',
        year,
        data_period,
        100.0 * performed_centihours / nullif(granted_centihours, 0),
        mean_monthly_users
    from provider_year
    where service_family = 'hemtjanst'
    union all
    -- I06: LSS housing users ÷ (those users + decisions not executed), at 31 December
    select
        'I06',
        year,
        cast(year as varchar) || '-12-31',
        100.0 * users / nullif(users + unexecuted_decisions, 0),
        users + unexecuted_decisions
    from provider_december
    where service_family = 'lss_boende'
),

from_survey as (
    select
        catalog.indicator_id,
        survey.year as data_year,
        cast(survey.year as varchar) as data_period,
        cast(survey.share_pct as double) as value,
        survey.respondents as persons,
        survey.kpi_id,
        survey.source_file_id
    from {{ ref('survey_results') }} as survey
    inner join catalog
        on catalog.source = 'mart:survey_results' and catalog.kolada_kpi_id = survey.kpi_id
),

-- cost_per_user names the seed 004 indicator each row gives (its Swedish name).
from_cost as (
    select
        catalog.indicator_id,
        cost.year as data_year,
        cast(cost.year as varchar) as data_period,
        cast(cost.cost_per_user as double) as value,
        cost.average_users as persons
    from {{ ref('cost_per_user') }} as cost
    inner join catalog
        on catalog.source = 'mart:cost_per_user' and catalog.name_sv = cost.indicator
),

from_kolada as (
    select
        catalog.indicator_id,
        kolada.year as data_year,
        cast(kolada.year as varchar) as data_period,
        kolada.value,
        kolada.kpi_id,
        kolada.file_id
    from {{ ref('int_kolada__kpi_values_current') }} as kolada
    inner join catalog on catalog.source = 'kolada:' || kolada.kpi_id
    where kolada.municipality_id = '{{ var("municipality_id") }}'
        and kolada.ou_id is null
        and kolada.gender = 'T'
),

from_manual as (
    select
        manual.indicator_id,
        manual.year as data_year,
        cast(manual.year as varchar) as data_period,
        cast(manual.value as double) as value,
        manual.file_id
    from {{ ref('int_manual_indicators__values_current') }} as manual
    inner join catalog
        on catalog.source = 'manual' and catalog.indicator_id = manual.indicator_id
),

sourced as (
    select
        indicator_id, data_year, data_period, value, persons,
        'provider_month' as source_model,
        null as source_kpi_id,
        null as source_file_id
    from from_provider_month
    union all
    select
        indicator_id, data_year, data_period, value, persons,
        'survey_results', kpi_id, source_file_id
    from from_survey
    union all
    select
        indicator_id, data_year, data_period, value, persons,
        'cost_per_user', null, null
    from from_cost
    union all
    select
        indicator_id, data_year, data_period, value, null,
        'int_kolada__kpi_values_current', kpi_id, file_id
    from from_kolada
    union all
    select
        indicator_id, data_year, data_period, value, null,
        'int_manual_indicators__values_current', null, file_id
    from from_manual
)

select
    sourced.indicator_id,
    cast(sourced.data_year - catalog.data_year_offset as integer) as reporting_year,
    cast(sourced.data_year as integer) as data_year,
    sourced.data_period,
    sourced.value,
    cast(sourced.persons as double) as persons,
    sourced.source_model,
    cast(sourced.source_kpi_id as varchar) as source_kpi_id,
    cast(sourced.source_file_id as bigint) as source_file_id
from sourced
inner join catalog using (indicator_id)
where sourced.value is not null
