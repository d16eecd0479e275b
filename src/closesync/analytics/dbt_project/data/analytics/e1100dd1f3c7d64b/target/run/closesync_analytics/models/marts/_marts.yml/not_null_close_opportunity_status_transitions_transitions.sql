
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select transitions
from "close"."analytics"."close_opportunity_status_transitions"
where transitions is null



  
  
      
    ) dbt_internal_test