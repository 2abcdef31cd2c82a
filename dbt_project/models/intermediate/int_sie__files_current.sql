-- The current SIE file of each financial year: a later export of the same year (e.g. after
-- closing) replaces the earlier one.
select file_id, year(start_date) as fiscal_year, start_date, end_date
from {{ ref('stg_sie__years') }}
where year_index = 0
qualify file_id = max(file_id) over (partition by year(start_date))
