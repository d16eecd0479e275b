
    
    



select lead_id
from "close"."analytics"."stg_close__leads"
where lead_id is null


