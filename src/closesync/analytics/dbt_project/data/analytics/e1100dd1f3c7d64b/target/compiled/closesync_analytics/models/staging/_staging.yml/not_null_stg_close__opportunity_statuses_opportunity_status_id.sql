
    
    



select opportunity_status_id
from "close"."analytics"."stg_close__opportunity_statuses"
where opportunity_status_id is null


