-- Each group's members as last fetched (the latest fetch date; of one date, the latest loaded
-- file). Kolada re-bases its "liknande kommuner" groups every year under the same id, and
-- computes a group's values for every year with its current members; so do the benchmarks.
select * exclude (recency)
from (
    select
        *,
        dense_rank() over (
            partition by group_id order by fetched_on desc, file_id desc
        ) as recency
    from {{ ref('stg_kolada__municipality_groups') }}
)
where recency = 1
