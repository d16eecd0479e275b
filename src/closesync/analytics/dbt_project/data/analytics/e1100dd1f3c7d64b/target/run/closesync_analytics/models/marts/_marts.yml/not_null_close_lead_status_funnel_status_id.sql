
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select status_id
from "close"."analytics"."close_lead_status_funnel"
where status_id is null



  
  
      
    ) dbt_internal_test