
    
    

select
    meeting_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__meetings"
where meeting_id is not null
group by meeting_id
having count(*) > 1


