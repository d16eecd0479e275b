
    
    

select
    lead_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__leads"
where lead_id is not null
group by lead_id
having count(*) > 1


