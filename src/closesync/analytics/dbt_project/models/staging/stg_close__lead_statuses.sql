with latest as ({{ closesync_latest(source('closesync', 'lead_statuses'), order_by='label') }})
select
    cast(id as {{ dbt.type_string() }}) as lead_status_id,
    label as status_label
from latest
