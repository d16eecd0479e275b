
    
    



select opportunity_status_change_id
from "close"."analytics"."stg_close__opportunity_status_changes"
where opportunity_status_change_id is null


