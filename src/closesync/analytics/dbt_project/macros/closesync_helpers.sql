{#- Helpers shared by the staging models: written with dbt's cross-database macros and plain ANSI SQL, so
    the project runs on DuckDB and PostgreSQL (and other adapters where that SQL is portable). -#}

{#- A timestamp as UTC without a zone: days and months are then UTC whatever the session's time zone. -#}
{% macro closesync_utc(column) -%}
    {{ return(adapter.dispatch('closesync_utc', 'closesync_analytics')(column)) }}
{%- endmacro %}

{% macro default__closesync_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{#- The current time as a UTC timestamp without a zone (for "overdue" and "days in status so far"). -#}
{% macro closesync_now() -%}
    {{ closesync_utc(dbt.current_timestamp()) }}
{%- endmacro %}

{#- Days from `start` to `end` (timestamps), fractional. -#}
{% macro closesync_days_between(start, end) -%}
    ({{ dbt.datediff(start, end, 'second') }} / 86400.0)
{%- endmacro %}

{#- The rows of a synced table, one per `key` (the latest non-null `order_by` wins; NULL sorts differently
    per database, so it is ordered explicitly).
    closesync's upsert already keeps one row per key; the append method keeps every version read. -#}
{% macro closesync_latest(relation, key='id', order_by='date_updated') -%}
    select *
    from (
        select
            src.*,
            row_number() over (
                partition by src.{{ key }}
                order by case when src.{{ order_by }} is null then 1 else 0 end, src.{{ order_by }} desc
            ) as _closesync_row
        from {{ relation }} as src
        where src.{{ key }} is not null
    ) as ranked
    where _closesync_row = 1
{%- endmacro %}

{#- The relation of an optional report's table (meetings, SMS), or none when it has not been synced. -#}
{% macro closesync_existing(relation) -%}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {{ return(adapter.get_relation(database=relation.database, schema=relation.schema,
                                   identifier=relation.identifier)) }}
{%- endmacro %}

{#- `name` when `relation` has that column, else a typed NULL: the optional reports come from catalogs that
    may shape them differently, so their models read only the columns they find. -#}
{% macro closesync_column_or_null(relation, name, type) -%}
    {% for column in adapter.get_columns_in_relation(relation) %}
        {% if column.name | lower == name %}
            {{ return(name) }}
        {% endif %}
    {% endfor %}
    {{ return('cast(null as ' ~ type ~ ')') }}
{%- endmacro %}
