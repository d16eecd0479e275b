
    

    create  table
      "close"."analytics"."stg_close__notes__dbt_tmp"
  
    
    as (
      with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."activities_notes" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as note_id,
    cast(lead_id as TEXT) as lead_id,
    cast(user_id as TEXT) as user_id,
    user_name,
    (coalesce(activity_at, date_created) at time zone 'UTC') as activity_at,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
from latest
    );
    
  