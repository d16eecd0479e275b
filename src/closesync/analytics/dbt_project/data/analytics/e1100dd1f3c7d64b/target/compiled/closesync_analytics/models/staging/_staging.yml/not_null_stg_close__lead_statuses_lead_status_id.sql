
    
    



select lead_status_id
from "close"."analytics"."stg_close__lead_statuses"
where lead_status_id is null


