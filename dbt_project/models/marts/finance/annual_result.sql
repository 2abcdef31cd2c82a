-- Year: KSON's result from the current ledger of the year, and the rule of seed 000, point 14:
-- a negative financial year must be restored within the following three years (var
-- negative_result_restore_years). Only closed years count (the loaded ledger says so, as in
-- the finance_budget_outcome suite: bookings in the year's last month, exported after it). A
-- year's surplus restores the deficits of the three years before it, oldest first; what is
-- left over restores nothing else.
{% set window = var('negative_result_restore_years') %}
with recursive results as (
    select
        files.fiscal_year as year,
        -- Income-statement accounts (classes 3–8); income is credit, so the result is −sum.
        coalesce(-sum(ledger.amount) filter (where left(ledger.account, 1) between '3' and '8'), 0)
            as result,
        coalesce(
            max(date_trunc('month', ledger.booking_date)) = date_trunc('month', files.end_date)
            and (any_value(sie.generated_on) is null or any_value(sie.generated_on) > files.end_date),
            false
        ) as is_closed
    from {{ ref('int_sie__files_current') }} as files
    inner join {{ ref('stg_sie__files') }} as sie using (file_id)
    left join {{ ref('int_sie__transactions_current') }} as ledger using (file_id)
    group by files.fiscal_year, files.end_date
),

closed as (
    select year, result, row_number() over (order by year) as n
    from results
    where is_closed
),

-- After each closed year, oldest first: its deficits and what is left of each. A surplus pays
-- the deficits still within their window in year order; a deficit joins the list.
fold as (
    select
        0 as n,
        []::struct(year integer, remaining decimal(18, 2), restored_in integer)[] as deficits
    union all
    select
        closed.n,
        list_concat(
            list_transform(
                list_transform(fold.deficits, lambda d, i: {
                    'deficit': d,
                    'paid': case when closed.result > 0 and d.year >= closed.year - {{ window }}
                        then least(d.remaining, greatest(0, closed.result - coalesce(list_sum(
                            list_transform(list_slice(fold.deficits, 1, i - 1), lambda x:
                                case when x.year >= closed.year - {{ window }}
                                    then x.remaining else 0 end)), 0)))
                        else 0 end
                }),
                lambda p: {
                    'year': p.deficit.year,
                    'remaining': p.deficit.remaining - p.paid,
                    'restored_in': case
                        when p.paid > 0 and p.paid = p.deficit.remaining then closed.year
                        else p.deficit.restored_in end
                }
            ),
            case when closed.result < 0
                then [{'year': closed.year, 'remaining': -closed.result, 'restored_in': null}]
                else [] end
        )::struct(year integer, remaining decimal(18, 2), restored_in integer)[]
    from fold
    inner join closed on closed.n = fold.n + 1
),

deficits as (
    select unnest(deficits, recursive := true)
    from fold
    qualify n = max(n) over ()
)

select
    cast(results.year as integer) as year,
    cast(results.result as decimal(18, 2)) as result,
    results.is_closed,
    results.result < 0 as is_negative,
    case when results.is_closed and results.result < 0
        then cast(results.year + {{ window }} as integer) end as restore_by,
    cast(deficits.remaining as decimal(18, 2)) as amount_to_restore,
    deficits.restored_in,
    case
        when not results.is_closed then 'year_not_closed'
        when results.result >= 0 then 'not_negative'
        when deficits.remaining = 0 then 'restored'
        when (select max(year) from closed) >= results.year + {{ window }} then 'not_restored'
        else 'open'
    end as restoration_status
from results
left join deficits on deficits.year = results.year
