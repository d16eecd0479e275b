with latest as ({{ closesync_latest(source('closesync', 'activities_opportunity_status_change')) }})
select
    cast(id as {{ dbt.type_string() }}) as opportunity_status_change_id,
    cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    cast(old_status_id as {{ dbt.type_string() }}) as old_opportunity_status_id,
    old_status_label,
    lower(old_status_type) as old_status_type,
    cast(new_status_id as {{ dbt.type_string() }}) as new_opportunity_status_id,
    new_status_label,
    lower(new_status_type) as new_status_type,
    cast(new_pipeline_id as {{ dbt.type_string() }}) as pipeline_id,
    new_pipeline_name as pipeline_name,
    cast(coalesce(opportunity_value, 0) as {{ dbt.type_bigint() }}) as opportunity_value,
    {{ closesync_utc('coalesce(activity_at, date_created)') }} as activity_at,
    {{ closesync_utc('date_created') }} as created_at
from latest
