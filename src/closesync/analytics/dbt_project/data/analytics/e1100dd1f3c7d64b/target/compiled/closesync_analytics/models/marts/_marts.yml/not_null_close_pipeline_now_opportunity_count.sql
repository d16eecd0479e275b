
    
    



select opportunity_count
from "close"."analytics"."close_pipeline_now"
where opportunity_count is null


