{#- Report "Activities Meetings" is optional: without its table this model is empty, with the same columns. -#}
{%- set string, stamp = dbt.type_string(), dbt.type_timestamp() -%}
{% set relation = closesync_existing(source('closesync', 'activities_meetings')) %}
{% if relation is none %}
select
    cast(null as {{ string }}) as meeting_id,
    cast(null as {{ string }}) as lead_id,
    cast(null as {{ string }}) as user_id,
    cast(null as {{ string }}) as user_name,
    cast(null as {{ string }}) as status,
    cast(null as {{ stamp }}) as activity_at,
    cast(null as {{ stamp }}) as created_at
where 1 = 0
{% else %}
{%- set updated = closesync_column_or_null(relation, 'date_updated', stamp) %}
{%- set activity_at = closesync_column_or_null(relation, 'activity_at', stamp) %}
with latest as ({{ closesync_latest(relation, order_by=(updated if updated == 'date_updated' else 'id')) }})
select
    cast(id as {{ string }}) as meeting_id,
    cast({{ closesync_column_or_null(relation, 'lead_id', string) }} as {{ string }}) as lead_id,
    cast({{ closesync_column_or_null(relation, 'user_id', string) }} as {{ string }}) as user_id,
    {{ closesync_column_or_null(relation, 'user_name', string) }} as user_name,
    lower({{ closesync_column_or_null(relation, 'status', string) }}) as status,
    {{ closesync_utc('coalesce(' ~ activity_at ~ ', date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at
from latest
{% endif %}
