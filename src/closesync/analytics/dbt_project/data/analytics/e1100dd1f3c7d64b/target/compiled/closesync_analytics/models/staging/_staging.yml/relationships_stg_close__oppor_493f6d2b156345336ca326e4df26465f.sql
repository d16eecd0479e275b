
    
    

with child as (
    select new_opportunity_status_id as from_field
    from "close"."analytics"."stg_close__opportunity_status_changes"
    where new_opportunity_status_id is not null
),

parent as (
    select opportunity_status_id as to_field
    from "close"."analytics"."stg_close__opportunity_statuses"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


