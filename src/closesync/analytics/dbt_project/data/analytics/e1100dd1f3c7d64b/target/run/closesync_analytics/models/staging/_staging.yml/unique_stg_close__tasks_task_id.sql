
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    task_id as unique_field,
    count(*) as n_records

from "close"."analytics"."stg_close__tasks"
where task_id is not null
group by task_id
having count(*) > 1



  
  
      
    ) dbt_internal_test