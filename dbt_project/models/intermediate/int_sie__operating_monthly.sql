-- Operating rows (income class 3, costs 4–7) of the current ledger of each year, summed per
-- booking month, account, activity (dimension 2) and counterparty (dimension 6). Signs as in
-- the ledger: costs positive, income negative. Shared by the cost and reimbursement marts.
{{ config(materialized='table') }}
select
    fiscal_year,
    cast(date_trunc('month', booking_date) as date) as month,
    account,
    left(account, 2) as account_group,
    list_filter(objects, lambda o: o.dimension = 2)[1].object as activity_code,
    list_filter(objects, lambda o: o.dimension = 6)[1].object as counterparty_object,
    sum(amount) as amount,
    sum(quantity) as quantity
from {{ ref('int_sie__transactions_current') }}
where left(account, 1) between '3' and '7'
group by all
