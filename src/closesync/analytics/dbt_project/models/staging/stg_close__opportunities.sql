{% set fields = closesync_fields_of('opportunities') %}
with latest as ({{ closesync_latest(source('closesync', 'opportunities')) }})
select
    cast(id as {{ dbt.type_string() }}) as opportunity_id,
    cast(lead_id as {{ dbt.type_string() }}) as lead_id,
    lead_name,
    cast(contact_id as {{ dbt.type_string() }}) as contact_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    user_name,
    cast(status_id as {{ dbt.type_string() }}) as opportunity_status_id,
    status_label,
    lower(status_type) as status_type,
    cast(pipeline_id as {{ dbt.type_string() }}) as pipeline_id,
    pipeline_name,
    cast(coalesce(value, 0) as {{ dbt.type_bigint() }}) as value,
    value_currency,
    value_period,
    cast(coalesce(confidence, 0) as {{ dbt.type_int() }}) as confidence,
    cast(coalesce(annualized_value, value, 0) as {{ dbt.type_bigint() }}) as annualized_value,
    cast(date_won as date) as date_won,
    cast(date_lost as date) as date_lost,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
    {%- for field in fields %}
    , {{ adapter.quote(field.column) }} as {{ adapter.quote(field.alias) }}
    {%- endfor %}
from latest
