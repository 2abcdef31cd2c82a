-- The current value of each KPI, area, year and gender: the row from the latest loaded file
-- (a newer fetch of the same response replaces the older one), rows flagged deleted dropped.
with ranked as (
    select
        *,
        row_number() over (
            partition by kpi_id, municipality_id, ou_id, year, gender
            order by file_id desc
        ) as recency
    from {{ ref('stg_kolada__kpi_values') }}
)

select file_id, kpi_id, municipality_id, ou_id, year, gender, value, value_count, status
from ranked
where recency = 1 and not is_deleted
