
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select note_id
from "close"."analytics"."stg_close__notes"
where note_id is null



  
  
      
    ) dbt_internal_test