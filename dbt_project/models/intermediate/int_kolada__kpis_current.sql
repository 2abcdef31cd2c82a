-- The latest metadata of each KPI.
select * exclude (recency)
from (
    select *, row_number() over (partition by kpi_id order by file_id desc) as recency
    from {{ ref('stg_kolada__kpis') }}
)
where recency = 1
