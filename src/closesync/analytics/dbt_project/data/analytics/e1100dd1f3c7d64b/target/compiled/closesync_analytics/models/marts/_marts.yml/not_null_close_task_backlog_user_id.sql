
    
    



select user_id
from "close"."analytics"."close_task_backlog"
where user_id is null


