with latest as ({{ closesync_latest(source('closesync', 'activities_call')) }})
select
    cast(id as {{ dbt.type_string() }}) as call_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(contact_id as {{ dbt.type_string() }}) as contact_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    lower(direction) as direction,
    status,
    disposition,
    cast(coalesce(duration, 0) as {{ dbt.type_bigint() }}) as duration_seconds,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
from latest
