
    
    



select lead_id
from "close"."analytics"."close_leads"
where lead_id is null


