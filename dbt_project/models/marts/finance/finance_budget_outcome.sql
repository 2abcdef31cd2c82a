-- Year × month × activity × account class: budget and outcome (#PSALDO) of the current ledger
-- of each year, the deviation, year to date, and a full-year forecast (outcome so far + budget
-- of the months left). The budget is the current budget file of the year where one was loaded
-- (highest version, then latest), else the ledger's #PBUDGET. Signs as in the ledger: costs
-- positive, income negative.
with ledger as (
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

budget_files as (
    select year, file_id
    from (select distinct year, budget_version, file_id from {{ ref('stg_budget__lines') }})
    qualify row_number() over (partition by year order by budget_version desc, file_id desc) = 1
),

file_budget as (
    select
        lines.year as fiscal_year,
        make_date(lines.year, lines.month, 1) as month,
        lines.activity_code,
        left(lines.account, 1) as account_class,
        'BUDGET_FILE' as balance_kind,
        lines.amount
    from {{ ref('stg_budget__lines') }} as lines
    inner join budget_files using (file_id)
),

periods as (
    select * from ledger
    where balance_kind = 'PSALDO'
        or fiscal_year not in (select year from budget_files)
    union all
    select * from file_budget
),

monthly as (
    select
        fiscal_year,
        month,
        activity_code,
        account_class,
        coalesce(sum(amount) filter (where balance_kind <> 'PSALDO'), 0) as budget,
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
    cast(running.fiscal_year as integer) as year,
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
    cast(budget_full_year as decimal(18, 2)) as budget_full_year,
    case when budget_files.year is null then 'sie_pbudget' else 'budget_file' end
        as budget_source
from running
left join {{ ref('activities') }} as activities using (activity_code)
left join budget_files on budget_files.year = running.fiscal_year
