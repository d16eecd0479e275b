
    

    create  table
      "close"."analytics"."stg_close__contacts__dbt_tmp"
  
    
    as (
      with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."contacts" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as contact_id,
    cast(lead_id as TEXT) as lead_id,
    coalesce(display_name, name) as contact_name,
    title,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
from latest
    );
    
  