with latest as ({{ closesync_latest(source('closesync', 'tasks')) }})
select
    cast(id as {{ dbt.type_string() }}) as task_id,
    _type as task_type,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(assigned_to as {{ dbt.type_string() }}) as user_id,
    assigned_to_name as user_name,
    text as task_text,
    coalesce(is_complete, false) as is_complete,
    {{ closesync_utc('coalesce(due_date, date)') }} as due_at,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
from latest
