{#- One row per opportunity with status, pipeline, owner, values (cents), days to close and every custom
    field as a named column. -#}
{% set fields = closesync_fields_of('opportunities') %}
select
    o.opportunity_id,
    o.lead_id,
    o.lead_name,
    o.user_id,
    coalesce(u.user_name, o.user_name) as user_name,
    o.opportunity_status_id as status_id,
    coalesce(s.status_label, o.status_label) as status_label,
    coalesce(s.status_type, o.status_type) as status_type,
    o.pipeline_id,
    o.pipeline_name,
    o.value,
    o.confidence,
    cast(round(o.value * o.confidence / 100.0) as {{ dbt.type_bigint() }}) as expected_value,
    o.created_at,
    o.updated_at,
    o.date_won,
    o.date_lost,
    case
        when coalesce(o.date_won, o.date_lost) is not null
            then {{ dbt.datediff('cast(o.created_at as date)', 'coalesce(o.date_won, o.date_lost)', 'day') }}
    end as days_to_close
    {{- closesync_custom_select(fields, 'o') }}
from {{ ref('stg_close__opportunities') }} as o
left join {{ ref('stg_close__opportunity_statuses') }} as s on s.opportunity_status_id = o.opportunity_status_id
left join {{ ref('stg_close__users') }} as u on u.user_id = o.user_id
