-- Year × month × activity × account class: budget (#PBUDGET) and outcome (#PSALDO) of the
-- current ledger of each year, the deviation, year to date, and a full-year forecast (outcome
-- so far + budget of the months left). Signs as in the ledger: costs positive, income
-- negative.
with periods as (
    select
        files.fiscal_year,
        cast(strptime(balances.period, '%Y%m') as date) as month,
        coalesce(list_filter(balances.objects, lambda o: o.dimension = 2)[1].object, '')
            as activity_code,
        left(balances.account, 1) as account_class,
        balances.balance_kind,
        balances.amount
    from {{ ref('stg_sie__balances') }} as balances
    inner join {{ ref('int_sie__files_current') }} as files using (file_id)
    where balances.balance_kind in ('PSALDO', 'PBUDGET') and balances.year_index = 0
),

monthly as (
    select
        fiscal_year,
        month,
        activity_code,
        account_class,
        coalesce(sum(amount) filter (where balance_kind = 'PBUDGET'), 0) as budget,
        coalesce(sum(amount) filter (where balance_kind = 'PSALDO'), 0) as outcome
    from periods
    group by all
),

running as (
    select
        *,
        sum(budget) over year_so_far as budget_ytd,
        sum(outcome) over year_so_far as outcome_ytd,
        sum(budget) over whole_year as budget_full_year
    from monthly
    window
        year_so_far as (partition by fiscal_year, activity_code, account_class order by month),
        whole_year as (partition by fiscal_year, activity_code, account_class)
)

select
    cast(fiscal_year as integer) as year,
    month,
    activity_code,
    activities.activity_name,
    account_class,
    cast(budget as decimal(18, 2)) as budget,
    cast(outcome as decimal(18, 2)) as outcome,
    cast(outcome - budget as decimal(18, 2)) as deviation,
    cast(budget_ytd as decimal(18, 2)) as budget_ytd,
    cast(outcome_ytd as decimal(18, 2)) as outcome_ytd,
    cast(outcome_ytd + budget_full_year - budget_ytd as decimal(18, 2)) as forecast_full_year,
    cast(budget_full_year as decimal(18, 2)) as budget_full_year
from running
left join {{ ref('activities') }} as activities using (activity_code)
