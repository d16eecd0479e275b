
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select sms_id
from "close"."analytics"."stg_close__sms"
where sms_id is null



  
  
      
    ) dbt_internal_test