
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select close_month
from "close"."analytics"."close_won_lost_by_month"
where close_month is null



  
  
      
    ) dbt_internal_test