
    
    



select lead_id
from "close"."analytics"."stg_close__lead_status_changes"
where lead_id is null


