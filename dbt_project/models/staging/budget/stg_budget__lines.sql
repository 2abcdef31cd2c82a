select
    file_id,
    cast(year as integer) as year,
    cast(month as integer) as month,
    account,
    responsibility,
    activity as activity_code,
    cast(amount as decimal(18, 2)) as amount,
    source_row,
    budget_version
from {{ raw_source('budget_lines') }}
