
    
    

select
    opportunity_status_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__opportunity_statuses"
where opportunity_status_id is not null
group by opportunity_status_id
having count(*) > 1


