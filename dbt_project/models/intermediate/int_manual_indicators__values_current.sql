-- The current value of each manual indicator and year: from the latest loaded file that
-- reports it (a later file replaces the earlier value; a file need not repeat the others).
select
    indicator_id,
    year,
    value,
    comment,
    reporting_unit,
    file_id
from {{ ref('stg_manual_indicators__values') }}
qualify file_id = max(file_id) over (partition by indicator_id, year)
