
    
    



select email_id
from "close"."analytics"."stg_close__emails"
where email_id is null


