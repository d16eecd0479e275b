
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select status_type
from "close"."analytics"."stg_close__opportunity_statuses"
where status_type is null



  
  
      
    ) dbt_internal_test