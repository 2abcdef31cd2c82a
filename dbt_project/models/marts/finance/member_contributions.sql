-- Year × member × contribution: what the ledger booked against what the agreement (seed 000)
-- requires. Medlemsbidrag: the 2021 base (Region Stockholm's incl. the added 55 MSEK) raised
-- by 2.5 % a year, compounded, in 2022 and 2023; years the agreement does not cover have no
-- requirement. Extra medlemsbidrag (point 6, Region Stockholm 2021 and 2022): 2.6 % of its
-- share of the state grant for postponed care, against the costs booked for it (on its
-- responsibility code). Amounts in SEK, contributions and costs shown positive.
with agreement as (
    select * from {{ ref('member_contribution_agreement') }}
),

extra as (
    select * from {{ ref('extra_member_contribution') }}
),

ledger_years as (
    select fiscal_year as year from {{ ref('int_sie__files_current') }}
),

booked as (
    select fiscal_year as year, account, -sum(amount) as contribution_booked
    from {{ ref('int_sie__transactions_current') }}
    where account in (select account from agreement union select account from extra)
    group by all
),

costs as (
    -- Operating costs (classes 4–7) booked on a responsibility code (dimension 1).
    select year, cost_responsibility, sum(amount) as costs_booked
    from (
        select
            fiscal_year as year,
            list_filter(objects, lambda o: o.dimension = 1)[1].object as cost_responsibility,
            amount
        from {{ ref('int_sie__transactions_current') }}
        where left(account, 1) between '4' and '7'
    )
    group by all
),

lines as (
    select
        ledger_years.year,
        agreement.member,
        agreement.member_name,
        'medlemsbidrag' as contribution,
        agreement.account,
        ledger_years.year <= agreement.last_year as covered_by_agreement,
        -- The factor as an exact decimal (1.025² = 1.050625), so that rounding to öre is exact.
        round(agreement.base_amount_sek * cast(power(1 + agreement.min_annual_increase_pct / 100,
            ledger_years.year - agreement.base_year) as decimal(24, 12)), 2) as contribution_required,
        null as cost_responsibility
    from ledger_years
    inner join agreement on ledger_years.year >= agreement.base_year
    union all
    -- The extra contribution in the years the agreement sets it, and in any other year
    -- something was booked on its account (not covered, then).
    select
        ledger_years.year,
        accounts.member,
        agreement.member_name,
        'extra_medlemsbidrag',
        accounts.account,
        extra.year is not null,
        round(extra.state_grant_share_sek * extra.contribution_pct / 100, 2),
        extra.cost_responsibility
    from ledger_years
    cross join (select distinct member, account from extra) as accounts
    inner join agreement using (member)
    left join extra on extra.year = ledger_years.year and extra.account = accounts.account
    left join booked on booked.year = ledger_years.year and booked.account = accounts.account
    where extra.year is not null or booked.year is not null
)

select
    cast(lines.year as integer) as year,
    lines.member,
    lines.member_name,
    lines.contribution,
    lines.account,
    cast(coalesce(booked.contribution_booked, 0) as decimal(18, 2)) as contribution_booked,
    lines.covered_by_agreement,
    cast(case when lines.covered_by_agreement then lines.contribution_required end
        as decimal(18, 2)) as contribution_required,
    cast(case when lines.covered_by_agreement
        then coalesce(booked.contribution_booked, 0) - lines.contribution_required end
        as decimal(18, 2)) as difference,
    cast(case when lines.covered_by_agreement then round(100
        * (coalesce(booked.contribution_booked, 0) - lines.contribution_required)
        / nullif(lines.contribution_required, 0), 2) end as decimal(12, 2)) as difference_pct,
    case when lines.covered_by_agreement
        then coalesce(booked.contribution_booked, 0) < lines.contribution_required
    end as is_shortfall,
    cast(case when lines.contribution = 'extra_medlemsbidrag'
        then coalesce(costs.costs_booked, 0) end as decimal(18, 2)) as costs_booked,
    cast(case when lines.contribution = 'extra_medlemsbidrag'
        then coalesce(booked.contribution_booked, 0) - coalesce(costs.costs_booked, 0) end
        as decimal(18, 2)) as contribution_less_costs
from lines
left join booked on booked.year = lines.year and booked.account = lines.account
left join costs
    on costs.year = lines.year and costs.cost_responsibility = lines.cost_responsibility
