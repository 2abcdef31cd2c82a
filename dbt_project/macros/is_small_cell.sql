{#- True when a count of persons is a small cell: at least 1 and below the var
    small_cell_threshold (5). 0 persons is not a small cell (no person is described), and
    neither is an unknown count (null). Pass several counts for a row whose figures are about
    more than one group of persons: the row is small when any of them is. -#}
{% macro is_small_cell(persons) -%}
    {%- set threshold = var('small_cell_threshold') -%}
    coalesce(
        {%- for count in ([persons] if persons is string else persons) %}
        ({{ count }} > 0 and {{ count }} < {{ threshold }}){{ ' or' if not loop.last }}
        {%- endfor %},
        false
    )
{%- endmacro %}
