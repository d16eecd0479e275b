
    
    



select lead_id
from "close"."analytics"."stg_close__contacts"
where lead_id is null


