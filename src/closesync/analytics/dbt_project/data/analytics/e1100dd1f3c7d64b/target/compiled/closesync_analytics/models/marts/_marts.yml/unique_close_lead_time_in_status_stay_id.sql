
    
    

select
    stay_id as unique_field,
    count(*) as n_records

from "close"."analytics"."close_lead_time_in_status"
where stay_id is not null
group by stay_id
having count(*) > 1


