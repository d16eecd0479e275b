
    
    



select note_id
from "close"."analytics"."stg_close__notes"
where note_id is null


