-- The current follow-up of each contract year: the rows of the latest loaded file for that
-- year (a corrected export replaces the earlier one).
select *
from {{ ref('stg_providers__contract_followup') }}
qualify file_id = max(file_id) over (partition by contract_year)
