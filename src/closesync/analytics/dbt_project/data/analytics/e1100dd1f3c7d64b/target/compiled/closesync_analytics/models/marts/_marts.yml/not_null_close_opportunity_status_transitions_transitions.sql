
    
    



select transitions
from "close"."analytics"."close_opportunity_status_transitions"
where transitions is null


