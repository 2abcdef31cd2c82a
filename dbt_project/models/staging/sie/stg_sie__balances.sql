select
    file_id,
    kind as balance_kind,
    year_index,
    period,
    account,
    objects,
    amount,
    quantity,
    source_line
from {{ raw_source('sie_balances') }}
