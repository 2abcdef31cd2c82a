{{ config(meta={'dagster': {'ref': {'name': 'survey_results'}}}) }}
-- Every year and service in the mart has each question of the seed: a missing page of a
-- paged Kolada response, or a KPI left out of a fetch, shows up here.
with expected as (
    select service, count(*) as questions
    from {{ ref('survey_questions') }}
    group by service
),

found as (
    select year, service, count(*) as questions
    from {{ ref('survey_results') }}
    group by year, service
)

select found.year, found.service, found.questions, expected.questions as expected_questions
from found
inner join expected on expected.service = found.service
where found.questions <> expected.questions
