{#- The rows of a raw table whose landing file is not withdrawn (`kson withdraw`), as a
    subquery. Every staging model selects from its raw table through this macro, never through
    source() directly: a withdrawn file's rows then leave every later model at once, and the
    version loaded before it is current again. The raw rows themselves stay, for lineage. -#}
{% macro raw_source(table_name) -%}
    (
        select *
        from {{ source('raw', table_name) }} as raw_rows
        where raw_rows.file_id not in (
            select file_id from {{ source('raw', 'load_log') }} where withdrawn_at is not null
        )
    )
{%- endmacro %}
