-- Kolada's municipality groups as loaded: one row per group, member and fetch.
select
    file_id,
    group_id,
    trim(regexp_replace(title, '\s+', ' ', 'g')) as title,
    -- "Liknande kommuner äldreomsorg, Norrtälje, 2022": the year the membership is based on.
    try_cast(regexp_extract(title, '(\d{4})\s*$', 1) as integer) as membership_year,
    member_id,
    member_title as member_name,
    fetched_on
from {{ raw_source('kolada_municipality_groups') }}
