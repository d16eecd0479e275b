{#- One row per lead with its status, counts, open pipeline and every custom field as a named column. -#}
{% set fields = closesync_fields_of('leads') %}
with contacts as (
    select lead_id, count(*) as contact_count from {{ ref('stg_close__contacts') }} group by lead_id
),

opportunities as (
    select
        lead_id,
        count(*) as opportunity_count,
        sum(case when status_type = 'active' then value else 0 end) as open_opportunity_value
    from {{ ref('stg_close__opportunities') }}
    group by lead_id
),

last_change as (
    select lead_id, max(activity_at) as last_status_change_at
    from {{ ref('stg_close__lead_status_changes') }}
    group by lead_id
)

select
    l.lead_id,
    l.lead_name,
    l.lead_status_id as status_id,
    coalesce(s.status_label, l.status_label) as status_label,
    l.created_at,
    l.updated_at,
    cast(coalesce(c.contact_count, 0) as {{ dbt.type_bigint() }}) as contact_count,
    cast(coalesce(o.opportunity_count, 0) as {{ dbt.type_bigint() }}) as opportunity_count,
    cast(coalesce(o.open_opportunity_value, 0) as {{ dbt.type_bigint() }}) as open_opportunity_value,
    lc.last_status_change_at,
    {{ closesync_days_between('coalesce(lc.last_status_change_at, l.created_at)', closesync_now()) }}
        as days_in_current_status
    {{- closesync_custom_select(fields, 'l') }}
from {{ ref('stg_close__leads') }} as l
left join {{ ref('stg_close__lead_statuses') }} as s on s.lead_status_id = l.lead_status_id
left join contacts as c on c.lead_id = l.lead_id
left join opportunities as o on o.lead_id = l.lead_id
left join last_change as lc on lc.lead_id = l.lead_id
