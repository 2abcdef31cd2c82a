-- Year × service: net cost from the ledger (activity → service) against the users the
-- providers report, and the cost per user (seed 004: "Kostnad per hemtjänsttagare",
-- "Kostnad per brukare, särskilt boende"). Users of a year = the mean over its reported months
-- of the users reported that month. Net cost = costs − income, shown positive.
with ledger as (
    select
        ledger.fiscal_year as year,
        activities.service,
        coalesce(sum(ledger.amount) filter (where left(ledger.account, 1) between '4' and '7'), 0)
            as cost,
        coalesce(-sum(ledger.amount) filter (where left(ledger.account, 1) = '3'), 0) as income
    from {{ ref('int_sie__operating_monthly') }} as ledger
    inner join {{ ref('activities') }} as activities using (activity_code)
    where activities.service is not null
    group by all
),

monthly_users as (
    select
        year(reports.report_month) as year,
        areas.service_family as service,
        reports.report_month,
        sum(reports.users) as users
    from {{ ref('int_monthly_reports_current') }} as reports
    inner join {{ ref('contract_areas') }} as areas using (area_code)
    group by all
),

users as (
    select year, service, avg(users) as average_users, count(*) as months_reported
    from monthly_users
    group by all
),

indicators as (
    select * from (values
        ('hemtjanst', 'Kostnad per hemtjänsttagare'),
        ('sarskilt_boende', 'Kostnad per brukare, särskilt boende')
    ) as t (service, indicator)
),

yearly as (
    select
        ledger.year,
        ledger.service,
        ledger.cost,
        ledger.income,
        ledger.cost - ledger.income as net_cost,
        users.average_users,
        users.months_reported,
        (ledger.cost - ledger.income) / nullif(users.average_users, 0) as cost_per_user
    from ledger
    left join users using (year, service)
)

select
    cast(yearly.year as integer) as year,
    yearly.service,
    indicators.indicator,
    cast(yearly.cost as decimal(18, 2)) as cost,
    cast(yearly.income as decimal(18, 2)) as income,
    cast(yearly.net_cost as decimal(18, 2)) as net_cost,
    cast(round(yearly.average_users, 1) as decimal(12, 1)) as average_users,
    cast(yearly.months_reported as integer) as months_reported,
    cast(round(yearly.cost_per_user) as decimal(18, 0)) as cost_per_user,
    cast(round(previous.cost_per_user) as decimal(18, 0)) as cost_per_user_previous_year,
    cast(round(100 * (yearly.cost_per_user / previous.cost_per_user - 1), 1) as decimal(38, 1))
        as cost_per_user_change_pct,
    -- A mean of under 5 users: the cost per user is about 1-4 persons.
    {{ is_small_cell('yearly.average_users') }} as is_small_cell
from yearly
left join yearly as previous
    on previous.service = yearly.service
    and previous.year = yearly.year - 1
left join indicators on indicators.service = yearly.service
