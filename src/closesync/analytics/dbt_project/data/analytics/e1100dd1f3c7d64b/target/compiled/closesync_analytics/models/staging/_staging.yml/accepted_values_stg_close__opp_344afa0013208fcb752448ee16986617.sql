
    
    

with all_values as (

    select
        new_status_type as value_field,
        count(*) as n_records

    from "close"."analytics"."stg_close__opportunity_status_changes"
    group by new_status_type

)

select *
from all_values
where value_field not in (
    'active','won','lost'
)


