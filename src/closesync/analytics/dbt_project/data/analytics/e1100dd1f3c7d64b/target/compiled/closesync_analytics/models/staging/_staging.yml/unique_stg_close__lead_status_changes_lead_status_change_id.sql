
    
    

select
    lead_status_change_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__lead_status_changes"
where lead_status_change_id is not null
group by lead_status_change_id
having count(*) > 1


