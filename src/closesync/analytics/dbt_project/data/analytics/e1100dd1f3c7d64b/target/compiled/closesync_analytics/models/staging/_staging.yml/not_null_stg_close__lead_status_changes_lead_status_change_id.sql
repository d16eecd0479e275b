
    
    



select lead_status_change_id
from "close"."analytics"."stg_close__lead_status_changes"
where lead_status_change_id is null


