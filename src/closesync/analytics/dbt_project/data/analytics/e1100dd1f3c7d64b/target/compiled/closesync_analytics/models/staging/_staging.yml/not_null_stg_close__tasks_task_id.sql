
    
    



select task_id
from "close"."analytics"."stg_close__tasks"
where task_id is null


