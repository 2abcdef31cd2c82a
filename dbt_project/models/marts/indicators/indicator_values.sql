-- The board's indicators (seed 004, "Indikatorer") per reporting year: value, target, status
-- against the target and change from the year before, with the value's source. Every
-- indicator of the catalog has a row for every year with a value or a target of any indicator.
-- Values are rounded half up to the catalog's decimals, and compared rounded (docs/indicators.md).
with catalog as (
    select * from {{ ref('indicator_catalog') }}
),

targets as (
    select * from {{ ref('indicator_targets') }}
),

values_ as (
    select * from {{ ref('int_indicator_values') }}
),

years as (
    select reporting_year from values_
    union
    select year from targets
),

grid as (
    select
        catalog.*,
        years.reporting_year,
        cast(round(values_.value, catalog.decimals) as decimal(18, 1)) as value,
        values_.data_year,
        values_.data_period,
        values_.persons,
        values_.source_model,
        values_.source_kpi_id,
        values_.source_file_id
    from catalog
    cross join years
    left join values_
        on values_.indicator_id = catalog.indicator_id
        and values_.reporting_year = years.reporting_year
),

compared as (
    select
        grid.*,
        previous.value as previous_value,
        targets.target_value,
        targets.target_direction,
        -- how much worse than the year before (positive = worse), for Bibehåll
        case when grid.higher_is_better then previous.value - grid.value
            else grid.value - previous.value end as worsening,
        -- Bibehåll's tolerance: percentage points for a share, else % of the year before
        case when grid.unit = 'percent' then {{ var('indicator_keep_tolerance') }}
            else abs(previous.value) * {{ var('indicator_keep_tolerance') }} / 100 end
            as keep_tolerance
    from grid
    left join grid as previous
        on previous.indicator_id = grid.indicator_id
        and previous.reporting_year = grid.reporting_year - 1
    left join targets
        on targets.indicator_id = grid.indicator_id
        and targets.year = grid.reporting_year
)

select
    indicator_id,
    cast(reporting_year as integer) as reporting_year,
    sort_order,
    goal_area,
    name_sv,
    unit,
    decimals,
    higher_is_better,
    value,
    cast(data_year as integer) as data_year,
    data_period,
    previous_value,
    cast(value - previous_value as decimal(18, 1)) as change,
    cast(target_value as decimal(18, 1)) as target_value,
    target_direction,
    case
        when target_value is null and target_direction is null then 'saknar mål'
        when value is null then 'saknar data'
        when target_value is not null then
            case when higher_is_better and value >= target_value
                    or not higher_is_better and value <= target_value
                then 'uppnått' else 'ej uppnått' end
        when previous_value is null then 'saknar data'
        when target_direction = 'Öka' then
            case when value > previous_value then 'uppnått' else 'ej uppnått' end
        when target_direction = 'Minska' then
            case when value < previous_value then 'uppnått' else 'ej uppnått' end
        when target_direction = 'Bibehåll' then
            case when worsening <= keep_tolerance then 'uppnått' else 'ej uppnått' end
    end as status,
    source,
    source_model,
    source_kpi_id,
    source_file_id,
    cast(round(persons, 1) as decimal(12, 1)) as persons,
    -- The value is about `persons` persons (previous_value and change: the yml's window marks).
    {{ is_small_cell('persons') }} as is_small_cell
from compared
