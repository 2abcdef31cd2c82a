-- Ledger rows of the current SIE file of each financial year. Only rows that make up the vouchers
-- (TRANS, RTRANS); BTRANS rows are removed rows. A row without its own date has the voucher's.
select
    t.file_id,
    f.fiscal_year,
    t.voucher_series,
    t.voucher_number,
    t.voucher_date,
    t.voucher_line,
    coalesce(t.transaction_date, t.voucher_date) as booking_date,
    t.account,
    t.objects,
    t.amount,
    t.transaction_text,
    t.quantity
from {{ ref('stg_sie__transactions') }} as t
inner join {{ ref('int_sie__files_current') }} as f on f.file_id = t.file_id
where t.row_kind in ('TRANS', 'RTRANS')
