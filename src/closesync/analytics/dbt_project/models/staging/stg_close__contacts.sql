with latest as ({{ closesync_latest(source('closesync', 'contacts')) }})
select
    cast(id as {{ dbt.type_string() }}) as contact_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    coalesce(display_name, name) as contact_name,
    title,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
from latest
