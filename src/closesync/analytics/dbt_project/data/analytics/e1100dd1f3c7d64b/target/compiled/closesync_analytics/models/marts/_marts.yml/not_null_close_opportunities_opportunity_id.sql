
    
    



select opportunity_id
from "close"."analytics"."close_opportunities"
where opportunity_id is null


