
    
    



select sms_id
from "close"."analytics"."stg_close__sms"
where sms_id is null


