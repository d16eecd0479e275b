{#- Moves between opportunity statuses by month, from the opportunity status change activities. -#}
with changes as (
    select
        cast({{ dbt.date_trunc('month', 'activity_at') }} as date) as transition_month,
        old_opportunity_status_id as from_status_id,
        old_status_label as from_status_label,
        old_status_type as from_status_type,
        new_opportunity_status_id as to_status_id,
        new_status_label as to_status_label,
        new_status_type as to_status_type,
        pipeline_id,
        pipeline_name,
        opportunity_id,
        opportunity_value
    from {{ ref('stg_close__opportunity_status_changes') }}
    where activity_at is not null
)

select
    transition_month,
    from_status_id,
    max(from_status_label) as from_status_label,
    max(from_status_type) as from_status_type,
    to_status_id,
    max(to_status_label) as to_status_label,
    max(to_status_type) as to_status_type,
    max(pipeline_id) as pipeline_id,
    max(pipeline_name) as pipeline_name,
    cast(count(*) as {{ dbt.type_bigint() }}) as transitions,
    cast(count(distinct opportunity_id) as {{ dbt.type_bigint() }}) as opportunities,
    cast(sum(opportunity_value) as {{ dbt.type_bigint() }}) as total_value
from changes
group by transition_month, from_status_id, to_status_id
