
    
    



select meeting_id
from "close"."analytics"."stg_close__meetings"
where meeting_id is null


