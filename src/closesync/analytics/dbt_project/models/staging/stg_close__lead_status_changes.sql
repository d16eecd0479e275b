with latest as ({{ closesync_latest(source('closesync', 'activities_lead_status_change')) }})
select
    cast(id as {{ dbt.type_string() }}) as lead_status_change_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    cast(old_status_id as {{ dbt.type_string() }}) as old_lead_status_id,
    old_status_label,
    cast(new_status_id as {{ dbt.type_string() }}) as new_lead_status_id,
    new_status_label,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at
from latest
