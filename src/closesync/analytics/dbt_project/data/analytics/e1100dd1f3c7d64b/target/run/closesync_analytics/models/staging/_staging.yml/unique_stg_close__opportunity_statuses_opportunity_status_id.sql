
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    opportunity_status_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__opportunity_statuses"
where opportunity_status_id is not null
group by opportunity_status_id
having count(*) > 1



  
  
      
    ) dbt_internal_test