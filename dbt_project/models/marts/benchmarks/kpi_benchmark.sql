-- Kolada KPIs (gender T) of every municipality loaded, against the followed-up municipality's
-- county (unweighted mean, median, count, rank), its comparison groups of similar
-- municipalities (unweighted mean over the members with a value) and Riket.
{% set followed = var("municipality_id") %}
{% set groups = {"elderly_care": var("kolada_elderly_care_group", "G176641"),
                 "lss": var("kolada_lss_group", "G39654")} %}

with kpis as (
    select * from {{ ref('benchmark_kpis') }}
),

area_values as (
    select v.kpi_id, v.year, v.municipality_id, v.value, v.file_id
    from {{ ref('int_kolada__kpi_values_current') }} as v
    inner join kpis on kpis.kpi_id = v.kpi_id
    where v.gender = 'T' and v.municipality_id is not null
),

municipalities as (
    select * from {{ ref('int_kolada__municipalities_current') }}
),

followed_county as (
    select county_id from municipalities where municipality_id = '{{ followed }}'
),

rows as (
    select
        v.*,
        m.name as municipality_name,
        m.county_id,
        m.county_id = (select county_id from followed_county) as is_in_county
    from area_values as v
    inner join municipalities as m on m.municipality_id = v.municipality_id and m.type = 'K'
),

county as (
    select
        kpi_id,
        year,
        -- The means over exact decimals (Kolada publishes at most a few decimals): a mean of
        -- doubles depends on the order DuckDB's threads add them, so a rebuild could differ.
        avg(value::decimal(18, 4)) as county_mean,
        median(value) as county_median,
        count(*) as county_municipalities
    from rows
    where is_in_county and value is not null
    group by kpi_id, year
),

ranks as (
    select
        kpi_id,
        year,
        municipality_id,
        rank() over (partition by kpi_id, year order by value desc) as county_rank
    from rows
    where is_in_county and value is not null
),

group_members as (
    select group_id, title, member_id
    from {{ ref('int_kolada__municipality_groups_current') }}
    where group_id in ('{{ groups.values() | join("', '") }}')
),

group_titles as (
    select group_id, any_value(title) as title from group_members group by group_id
),

group_means as (
    select
        g.group_id,
        v.kpi_id,
        v.year,
        avg(v.value::decimal(18, 4)) as mean,
        count(*) as municipalities
    from group_members as g
    inner join area_values as v on v.municipality_id = g.member_id
    where v.value is not null
    group by g.group_id, v.kpi_id, v.year
),

riket as (
    select kpi_id, year, value from area_values where municipality_id = '0000'
)

select
    rows.kpi_id,
    k.kpi_title,
    rows.year,
    rows.municipality_id,
    rows.municipality_name,
    rows.municipality_id = '{{ followed }}' as is_followed_up,
    rows.value,
    kpis.higher_is_better,
    rows.is_in_county,
    (select county_id from followed_county) as county_id,
    county.county_mean,
    county.county_median,
    coalesce(county.county_municipalities, 0)::integer as county_municipalities,
    ranks.county_rank::integer as county_rank,
    {%- for key, group_id in groups.items() %}
    '{{ group_id }}' as {{ key }}_group_id,
    {{ key }}_title.title as {{ key }}_group_title,
    {{ key }}_mean.mean as {{ key }}_group_mean,
    coalesce({{ key }}_mean.municipalities, 0)::integer as {{ key }}_group_municipalities,
    {%- endfor %}
    riket.value as riket_value,
    rows.file_id as source_file_id
from rows
inner join kpis on kpis.kpi_id = rows.kpi_id
left join {{ ref('int_kolada__kpis_current') }} as k on k.kpi_id = rows.kpi_id
left join county on county.kpi_id = rows.kpi_id and county.year = rows.year
left join ranks
    on ranks.kpi_id = rows.kpi_id
    and ranks.year = rows.year
    and ranks.municipality_id = rows.municipality_id
{%- for key, group_id in groups.items() %}
left join group_titles as {{ key }}_title on {{ key }}_title.group_id = '{{ group_id }}'
left join group_means as {{ key }}_mean
    on {{ key }}_mean.group_id = '{{ group_id }}'
    and {{ key }}_mean.kpi_id = rows.kpi_id
    and {{ key }}_mean.year = rows.year
{%- endfor %}
left join riket on riket.kpi_id = rows.kpi_id and riket.year = rows.year
