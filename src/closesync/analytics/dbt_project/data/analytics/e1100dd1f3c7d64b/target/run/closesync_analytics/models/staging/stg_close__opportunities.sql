
    

    create  table
      "close"."analytics"."stg_close__opportunities__dbt_tmp"
  
    
    as (
      
with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."opportunities" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as opportunity_id,
    cast(lead_id as TEXT) as lead_id,
    lead_name,
    cast(contact_id as TEXT) as contact_id,
    cast(user_id as TEXT) as user_id,
    user_name,
    cast(status_id as TEXT) as opportunity_status_id,
    status_label,
    lower(status_type) as status_type,
    cast(pipeline_id as TEXT) as pipeline_id,
    pipeline_name,
    cast(coalesce(value, 0) as bigint) as value,
    value_currency,
    value_period,
    cast(coalesce(confidence, 0) as integer) as confidence,
    cast(coalesce(annualized_value, value, 0) as bigint) as annualized_value,
    cast(date_won as date) as date_won,
    cast(date_lost as date) as date_lost,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
    , "account_executive" as "account_executive"
    , "competitors" as "competitors"
    , "contract_url" as "contract_url"
    , "seats" as "seats"
from latest
    );
    
  