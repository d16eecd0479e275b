
    

    create  table
      "close"."analytics"."stg_close__tasks__dbt_tmp"
  
    
    as (
      with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."tasks" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as task_id,
    _type as task_type,
    cast(lead_id as TEXT) as lead_id,
    cast(assigned_to as TEXT) as user_id,
    assigned_to_name as user_name,
    text as task_text,
    coalesce(is_complete, false) as is_complete,
    (coalesce(due_date, date) at time zone 'UTC') as due_at,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
from latest
    );
    
  