
    
    



select status_type
from "close"."analytics"."stg_close__opportunity_statuses"
where status_type is null


