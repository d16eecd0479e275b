
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select opportunity_count
from "close"."analytics"."close_pipeline_now"
where opportunity_count is null



  
  
      
    ) dbt_internal_test