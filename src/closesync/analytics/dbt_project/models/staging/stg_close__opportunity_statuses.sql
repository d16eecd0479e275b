with latest as ({{ closesync_latest(source('closesync', 'opportunity_statuses'), order_by='label') }})
select
    cast(id as {{ dbt.type_string() }}) as opportunity_status_id,
    label as status_label,
    lower(type) as status_type,
    cast(pipeline_id as {{ dbt.type_string() }}) as pipeline_id
from latest
