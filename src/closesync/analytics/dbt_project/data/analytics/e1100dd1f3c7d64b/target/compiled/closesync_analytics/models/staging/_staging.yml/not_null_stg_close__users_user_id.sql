
    
    



select user_id
from "close"."analytics"."stg_close__users"
where user_id is null


