-- The current action-plan register: the rows of the latest loaded file (each export holds
-- every plan with its whole status history).
select *
from {{ ref('stg_providers__action_plans') }}
qualify file_id = max(file_id) over ()
