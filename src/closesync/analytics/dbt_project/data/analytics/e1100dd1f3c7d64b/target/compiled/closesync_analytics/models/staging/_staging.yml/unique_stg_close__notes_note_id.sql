
    
    

select
    note_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__notes"
where note_id is not null
group by note_id
having count(*) > 1


