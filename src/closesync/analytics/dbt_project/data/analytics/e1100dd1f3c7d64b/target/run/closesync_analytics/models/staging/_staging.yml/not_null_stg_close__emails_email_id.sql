
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select email_id
from "close"."analytics"."stg_close__emails"
where email_id is null



  
  
      
    ) dbt_internal_test