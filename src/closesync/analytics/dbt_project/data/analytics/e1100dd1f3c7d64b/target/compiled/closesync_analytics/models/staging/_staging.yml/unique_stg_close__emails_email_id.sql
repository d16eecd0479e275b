
    
    

select
    email_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__emails"
where email_id is not null
group by email_id
having count(*) > 1


