
select
    o.opportunity_id,
    o.lead_id,
    o.lead_name,
    o.user_id,
    coalesce(u.user_name, o.user_name) as user_name,
    o.opportunity_status_id as status_id,
    coalesce(s.status_label, o.status_label) as status_label,
    coalesce(s.status_type, o.status_type) as status_type,
    o.pipeline_id,
    o.pipeline_name,
    o.value,
    o.confidence,
    cast(round(o.value * o.confidence / 100.0) as bigint) as expected_value,
    o.created_at,
    o.updated_at,
    o.date_won,
    o.date_lost,
    case
        when coalesce(o.date_won, o.date_lost) is not null then (
        (date_diff('second', o.created_at::timestamp, cast(coalesce(o.date_won, o.date_lost) as timestamp)::timestamp ))
     / 86400.0)
    end as days_to_close
    , o."account_executive"
    , o."competitors"
    , o."contract_url"
    , o."seats"
from "close"."analytics"."stg_close__opportunities" as o
left join "close"."analytics"."stg_close__opportunity_statuses" as s on s.opportunity_status_id = o.opportunity_status_id
left join "close"."analytics"."stg_close__users" as u on u.user_id = o.user_id