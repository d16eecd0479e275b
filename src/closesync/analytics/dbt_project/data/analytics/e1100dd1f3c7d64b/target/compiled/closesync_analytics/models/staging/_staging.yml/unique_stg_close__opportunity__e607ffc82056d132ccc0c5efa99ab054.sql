
    
    

select
    opportunity_status_change_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__opportunity_status_changes"
where opportunity_status_change_id is not null
group by opportunity_status_change_id
having count(*) > 1


