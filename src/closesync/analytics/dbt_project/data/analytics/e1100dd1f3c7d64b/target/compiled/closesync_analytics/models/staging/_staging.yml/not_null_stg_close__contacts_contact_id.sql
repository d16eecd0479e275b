
    
    



select contact_id
from "close"."analytics"."stg_close__contacts"
where contact_id is null


