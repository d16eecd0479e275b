
    
    



select opportunity_id
from "close"."analytics"."stg_close__opportunity_status_changes"
where opportunity_id is null


