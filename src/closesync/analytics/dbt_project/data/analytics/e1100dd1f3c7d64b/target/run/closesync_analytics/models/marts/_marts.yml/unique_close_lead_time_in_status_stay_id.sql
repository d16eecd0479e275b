
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    stay_id as unique_field,
    count(*) as n_records

from "close"."analytics"."close_lead_time_in_status"
where stay_id is not null
group by stay_id
having count(*) > 1



  
  
      
    ) dbt_internal_test