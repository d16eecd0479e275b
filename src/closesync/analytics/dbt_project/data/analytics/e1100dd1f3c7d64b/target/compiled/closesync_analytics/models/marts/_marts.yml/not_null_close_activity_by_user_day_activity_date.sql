
    
    



select activity_date
from "close"."analytics"."close_activity_by_user_day"
where activity_date is null


