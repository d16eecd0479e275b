{#- Report "Activities Meetings" is optional: without its table this model is empty, with the same columns. -#}
{% set relation = closesync_existing(source('closesync', 'activities_meetings')) %}
{% if relation is none %}
select
    cast(null as {{ dbt.type_string() }}) as meeting_id,
    cast(null as {{ dbt.type_string() }}) as lead_id,
    cast(null as {{ dbt.type_string() }}) as user_id,
    cast(null as {{ dbt.type_string() }}) as user_name,
    cast(null as {{ dbt.type_timestamp() }}) as activity_at,
    cast(null as {{ dbt.type_timestamp() }}) as created_at
where 1 = 0
{% else %}
with latest as ({{ closesync_latest(relation) }})
select
    cast(id as {{ dbt.type_string() }}) as meeting_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at
from latest
{% endif %}
