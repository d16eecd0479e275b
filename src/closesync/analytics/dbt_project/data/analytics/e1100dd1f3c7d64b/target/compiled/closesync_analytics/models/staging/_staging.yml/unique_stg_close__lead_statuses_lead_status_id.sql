
    
    

select
    lead_status_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__lead_statuses"
where lead_status_id is not null
group by lead_status_id
having count(*) > 1


