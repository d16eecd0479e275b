
    
    

select
    call_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__calls"
where call_id is not null
group by call_id
having count(*) > 1


