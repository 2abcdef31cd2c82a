-- Ledger rows of the current SIE file of each financial year: a later export of the same
-- year (e.g. after closing) replaces the earlier one. Only rows that make up the vouchers
-- (TRANS, RTRANS); BTRANS rows are removed rows. A row without its own date has the voucher's.
with file_years as (
    select file_id, start_date, end_date, year(start_date) as fiscal_year
    from {{ ref('stg_sie__years') }}
    where year_index = 0
),

current_files as (
    select *
    from file_years
    qualify file_id = max(file_id) over (partition by fiscal_year)
)

select
    t.file_id,
    f.fiscal_year,
    t.voucher_series,
    t.voucher_number,
    t.voucher_date,
    coalesce(t.transaction_date, t.voucher_date) as booking_date,
    t.account,
    t.objects,
    t.amount,
    t.transaction_text,
    t.quantity
from {{ ref('stg_sie__transactions') }} as t
inner join current_files as f on f.file_id = t.file_id
where t.row_kind in ('TRANS', 'RTRANS')
