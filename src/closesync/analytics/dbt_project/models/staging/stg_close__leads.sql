{% set fields = closesync_fields_of('leads') %}
with latest as ({{ closesync_latest(source('closesync', 'leads')) }})
select
    cast(id as {{ dbt.type_string() }}) as lead_id,
    coalesce(display_name, name) as lead_name,
    description,
    cast(status_id as {{ dbt.type_string() }}) as lead_status_id,
    status_label,
    created_by,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
    {%- for field in fields %}
    , {{ adapter.quote(field.column) }} as {{ adapter.quote(field.alias) }}
    {%- endfor %}
from latest
