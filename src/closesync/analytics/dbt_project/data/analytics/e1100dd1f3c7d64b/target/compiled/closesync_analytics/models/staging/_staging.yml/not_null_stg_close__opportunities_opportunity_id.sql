
    
    



select opportunity_id
from "close"."analytics"."stg_close__opportunities"
where opportunity_id is null


