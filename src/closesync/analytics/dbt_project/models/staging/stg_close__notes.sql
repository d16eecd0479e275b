with latest as ({{ closesync_latest(source('closesync', 'activities_notes')) }})
select
    cast(id as {{ dbt.type_string() }}) as note_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
from latest
