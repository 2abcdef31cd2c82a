select
    file_id,
    voucher_series,
    voucher_number,
    voucher_date,
    voucher_text,
    voucher_reg_date,
    voucher_line,
    row_kind,
    row_number,
    account,
    objects,
    amount,
    transaction_date,
    transaction_text,
    quantity,
    source_line
from {{ raw_source('sie_transactions') }}
