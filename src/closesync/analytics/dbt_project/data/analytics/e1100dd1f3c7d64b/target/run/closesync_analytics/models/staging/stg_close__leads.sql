
    

    create  table
      "close"."analytics"."stg_close__leads__dbt_tmp"
  
    
    as (
      
with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."leads" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as lead_id,
    coalesce(display_name, name) as lead_name,
    description,
    cast(status_id as TEXT) as lead_status_id,
    status_label,
    created_by,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
    , "deal_size" as "deal_size"
    , "industry" as "industry"
    , "internal_database_id" as "internal_database_id"
    , "of_users" as "of_users"
    , "owner" as "owner"
    , "region" as "region"
    , "region_tumyrf" as "region_tumyrf"
    , "trial_due" as "trial_due"
from latest
    );
    
  