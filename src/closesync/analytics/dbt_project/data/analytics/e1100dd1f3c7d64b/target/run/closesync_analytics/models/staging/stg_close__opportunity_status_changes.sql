
    

    create  table
      "close"."analytics"."stg_close__opportunity_status_changes__dbt_tmp"
  
    
    as (
      with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."activities_opportunity_status_change" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as opportunity_status_change_id,
    cast(opportunity_id as TEXT) as opportunity_id,
    cast(lead_id as TEXT) as lead_id,
    cast(user_id as TEXT) as user_id,
    user_name,
    cast(old_status_id as TEXT) as old_opportunity_status_id,
    old_status_label,
    lower(old_status_type) as old_status_type,
    cast(new_status_id as TEXT) as new_opportunity_status_id,
    new_status_label,
    lower(new_status_type) as new_status_type,
    cast(new_pipeline_id as TEXT) as pipeline_id,
    new_pipeline_name as pipeline_name,
    cast(coalesce(opportunity_value, 0) as bigint) as opportunity_value,
    (coalesce(activity_at, date_created) at time zone 'UTC') as activity_at,
    (date_created at time zone 'UTC') as created_at
from latest
    );
    
  