
    
    

select
    sms_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__sms"
where sms_id is not null
group by sms_id
having count(*) > 1


