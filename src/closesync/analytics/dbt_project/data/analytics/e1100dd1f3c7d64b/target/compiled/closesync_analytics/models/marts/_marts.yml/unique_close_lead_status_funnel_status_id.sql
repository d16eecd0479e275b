
    
    

select
    status_id as unique_field,
    count(*) as n_records

from "close"."analytics"."close_lead_status_funnel"
where status_id is not null
group by status_id
having count(*) > 1


