
    
    



select stay_id
from "close"."analytics"."close_lead_time_in_status"
where stay_id is null


