
    
    



select call_id
from "close"."analytics"."stg_close__calls"
where call_id is null


