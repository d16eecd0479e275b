
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select lead_status_id
from "close"."analytics"."stg_close__lead_statuses"
where lead_status_id is null



  
  
      
    ) dbt_internal_test