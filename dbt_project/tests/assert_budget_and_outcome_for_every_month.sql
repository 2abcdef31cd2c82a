{{ config(meta={'dagster': {'ref': {'name': 'finance_budget_outcome'}}}) }}
-- Every closed financial year in the mart has a budget and an outcome for each of its twelve
-- months.
select year, count(distinct month) filter (where budget <> 0) as months_with_budget,
       count(distinct month) filter (where outcome <> 0) as months_with_outcome
from {{ ref('finance_budget_outcome') }}
where year < year(current_date)
group by year
having months_with_budget <> 12 or months_with_outcome <> 12
