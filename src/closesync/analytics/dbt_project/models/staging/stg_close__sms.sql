{#- Report "Activities SMS" is optional: without its table this model is empty, with the same columns.
    Close writes SMS directions as inbound/outbound; outgoing/incoming are read the same way. -#}
{% set relation = closesync_existing(source('closesync', 'activities_sms')) %}
{% if relation is none %}
select
    cast(null as {{ dbt.type_string() }}) as sms_id,
    cast(null as {{ dbt.type_string() }}) as lead_id,
    cast(null as {{ dbt.type_string() }}) as user_id,
    cast(null as {{ dbt.type_string() }}) as user_name,
    cast(null as {{ dbt.type_string() }}) as direction,
    cast(null as {{ dbt.type_timestamp() }}) as activity_at,
    cast(null as {{ dbt.type_timestamp() }}) as created_at
where 1 = 0
{% else %}
{% set direction = 'direction' if closesync_has_column(relation, 'direction') else 'cast(null as ' ~ dbt.type_string() ~ ')' %}
with latest as ({{ closesync_latest(relation) }})
select
    cast(id as {{ dbt.type_string() }}) as sms_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    case
        when lower({{ direction }}) in ('outbound', 'outgoing') then 'outbound'
        when lower({{ direction }}) in ('inbound', 'incoming') then 'inbound'
    end as direction,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at
from latest
{% endif %}
