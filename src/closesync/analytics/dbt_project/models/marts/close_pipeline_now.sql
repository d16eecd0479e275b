{#- Opportunities as they are now, by status, pipeline and owner: count, value and value weighted by
    confidence (money in cents). Open pipeline: status_type = 'active'. -#}
with opportunities as (
    select
        o.opportunity_status_id as status_id,
        coalesce(s.status_label, o.status_label) as status_label,
        coalesce(s.status_type, o.status_type) as status_type,
        coalesce(o.pipeline_id, s.pipeline_id) as pipeline_id,
        o.pipeline_name,
        o.user_id,
        coalesce(u.user_name, o.user_name) as user_name,
        o.value,
        o.confidence
    from {{ ref('stg_close__opportunities') }} as o
    left join {{ ref('stg_close__opportunity_statuses') }} as s on s.opportunity_status_id = o.opportunity_status_id
    left join {{ ref('stg_close__users') }} as u on u.user_id = o.user_id
)
select
    status_id,
    max(status_label) as status_label,
    max(status_type) as status_type,
    pipeline_id,
    max(pipeline_name) as pipeline_name,
    user_id,
    max(user_name) as user_name,
    count(*) as opportunity_count,
    cast(sum(value) as {{ dbt.type_bigint() }}) as total_value,
    cast(round(sum(value * confidence / 100.0)) as {{ dbt.type_bigint() }}) as expected_value,
    avg(confidence * 1.0) as avg_confidence
from opportunities
group by status_id, pipeline_id, user_id
