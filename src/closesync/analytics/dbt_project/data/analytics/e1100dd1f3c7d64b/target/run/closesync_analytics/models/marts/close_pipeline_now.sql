
    

    create  table
      "close"."analytics"."close_pipeline_now__dbt_tmp"
  
    
    as (
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
    from "close"."analytics"."stg_close__opportunities" as o
    left join "close"."analytics"."stg_close__opportunity_statuses" as s on s.opportunity_status_id = o.opportunity_status_id
    left join "close"."analytics"."stg_close__users" as u on u.user_id = o.user_id
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
    cast(sum(value) as bigint) as total_value,
    cast(round(sum(value * confidence / 100.0)) as bigint) as expected_value,
    avg(confidence * 1.0) as avg_confidence
from opportunities
group by status_id, pipeline_id, user_id
    );
    
  