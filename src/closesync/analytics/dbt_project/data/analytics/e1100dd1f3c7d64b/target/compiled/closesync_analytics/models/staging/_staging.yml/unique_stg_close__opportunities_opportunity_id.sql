
    
    

select
    opportunity_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__opportunities"
where opportunity_id is not null
group by opportunity_id
having count(*) > 1


