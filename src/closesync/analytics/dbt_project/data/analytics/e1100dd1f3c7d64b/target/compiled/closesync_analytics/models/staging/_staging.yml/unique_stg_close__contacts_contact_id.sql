
    
    

select
    contact_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__contacts"
where contact_id is not null
group by contact_id
having count(*) > 1


