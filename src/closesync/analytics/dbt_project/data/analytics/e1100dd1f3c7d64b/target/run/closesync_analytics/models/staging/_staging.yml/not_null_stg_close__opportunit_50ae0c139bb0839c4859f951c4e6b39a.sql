
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select opportunity_status_change_id
from "close"."analytics"."stg_close__opportunity_status_changes"
where opportunity_status_change_id is null



  
  
      
    ) dbt_internal_test