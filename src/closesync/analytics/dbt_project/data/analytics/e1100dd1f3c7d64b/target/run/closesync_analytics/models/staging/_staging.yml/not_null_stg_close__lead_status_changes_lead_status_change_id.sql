
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select lead_status_change_id
from "close"."analytics"."stg_close__lead_status_changes"
where lead_status_change_id is null



  
  
      
    ) dbt_internal_test