-- Results of "Vad tycker de äldre om äldreomsorgen?" for the followed-up municipality:
-- one row per year, service and question, with the share answering positively (total, women,
-- men), the service's respondents and response rate, and whether the result is suppressed.
with questions as (
    select * from {{ ref('survey_questions') }}
),

services as (
    select * from {{ ref('survey_services') }}
),

kpis as (
    select * from {{ ref('int_kolada__kpis_current') }}
),

municipality_values as (
    select *
    from {{ ref('int_kolada__kpi_values_current') }}
    where municipality_id = '{{ var("municipality_id") }}'
),

shares as (
    select
        v.kpi_id,
        v.year,
        v.municipality_id,
        max(v.value) filter (where v.gender = 'T') as share_pct,
        max(v.value) filter (where v.gender = 'K') as share_women_pct,
        max(v.value) filter (where v.gender = 'M') as share_men_pct,
        max(v.file_id) filter (where v.gender = 'T') as source_file_id
    from municipality_values as v
    inner join questions as q on q.kpi_id = v.kpi_id
    group by v.kpi_id, v.year, v.municipality_id
),

respondents as (
    select
        s.service,
        v.year,
        max(v.value) filter (where v.kpi_id = s.respondents_kpi_id) as respondents,
        max(v.value) filter (where v.kpi_id = s.response_rate_kpi_id) as response_rate_pct
    from municipality_values as v
    inner join services as s
        on v.kpi_id in (s.respondents_kpi_id, s.response_rate_kpi_id)
    where v.gender = 'T'
    group by s.service, v.year
)

select
    shares.year,
    shares.municipality_id,
    questions.service,
    services.service_name,
    questions.question_id,
    questions.question_area,
    questions.question_text,
    questions.answer_group,
    questions.kpi_id,
    kpis.kpi_title,
    cast(shares.share_pct as decimal(4, 1)) as share_pct,
    cast(shares.share_women_pct as decimal(4, 1)) as share_women_pct,
    cast(shares.share_men_pct as decimal(4, 1)) as share_men_pct,
    cast(respondents.respondents as integer) as respondents,
    cast(respondents.response_rate_pct as decimal(4, 1)) as response_rate_pct,
    shares.share_pct is null as is_suppressed,
    {{ is_small_cell('respondents.respondents') }} as is_small_cell,
    shares.source_file_id
from shares
inner join questions on questions.kpi_id = shares.kpi_id
inner join services on services.service = questions.service
left join kpis on kpis.kpi_id = shares.kpi_id
left join respondents
    on respondents.service = questions.service and respondents.year = shares.year
