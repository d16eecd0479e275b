
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        status_type as value_field,
        count(*) as n_records

    from "close"."analytics"."stg_close__opportunities"
    group by status_type

)

select *
from all_values
where value_field not in (
    'active','won','lost'
)



  
  
      
    ) dbt_internal_test