
    

    create  table
      "close"."analytics"."stg_close__meetings__dbt_tmp"
  
    
    as (
      

select
    cast(null as TEXT) as meeting_id,
    cast(null as TEXT) as lead_id,
    cast(null as TEXT) as user_id,
    cast(null as TEXT) as user_name,
    cast(null as timestamp) as activity_at,
    cast(null as timestamp) as created_at
where 1 = 0

    );
    
  