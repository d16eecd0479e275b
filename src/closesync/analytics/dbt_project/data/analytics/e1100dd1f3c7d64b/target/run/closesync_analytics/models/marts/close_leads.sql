
    

    create  table
      "close"."analytics"."close_leads__dbt_tmp"
  
    
    as (
      
with contacts as (
    select lead_id, count(*) as contact_count from "close"."analytics"."stg_close__contacts" group by lead_id
),

opportunities as (
    select
        lead_id,
        count(*) as opportunity_count,
        sum(case when status_type = 'active' then value else 0 end) as open_opportunity_value
    from "close"."analytics"."stg_close__opportunities"
    group by lead_id
),

last_change as (
    select lead_id, max(activity_at) as last_status_change_at
    from "close"."analytics"."stg_close__lead_status_changes"
    group by lead_id
)

select
    l.lead_id,
    l.lead_name,
    l.lead_status_id as status_id,
    coalesce(s.status_label, l.status_label) as status_label,
    l.created_at,
    l.updated_at,
    cast(coalesce(c.contact_count, 0) as bigint) as contact_count,
    cast(coalesce(o.opportunity_count, 0) as bigint) as opportunity_count,
    cast(coalesce(o.open_opportunity_value, 0) as bigint) as open_opportunity_value,
    lc.last_status_change_at,
    (
        (date_diff('second', coalesce(lc.last_status_change_at, l.created_at)::timestamp, (now() at time zone 'UTC')::timestamp ))
     / 86400.0)
        as days_in_current_status
    , l."deal_size"
    , l."industry"
    , l."internal_database_id"
    , l."of_users"
    , l."owner"
    , l."region"
    , l."region_tumyrf"
    , l."trial_due"
from "close"."analytics"."stg_close__leads" as l
left join "close"."analytics"."stg_close__lead_statuses" as s on s.lead_status_id = l.lead_status_id
left join contacts as c on c.lead_id = l.lead_id
left join opportunities as o on o.lead_id = l.lead_id
left join last_change as lc on lc.lead_id = l.lead_id
    );
    
  