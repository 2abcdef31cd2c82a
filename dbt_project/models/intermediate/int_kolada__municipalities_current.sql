-- The latest loaded metadata of each municipality and region.
select * exclude (recency)
from (
    select *, row_number() over (partition by municipality_id order by file_id desc) as recency
    from {{ ref('stg_kolada__municipalities') }}
)
where recency = 1
