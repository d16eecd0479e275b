
    
    



select status_id
from "close"."analytics"."close_lead_status_funnel"
where status_id is null


