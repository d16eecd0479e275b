
    
    



select close_month
from "close"."analytics"."close_won_lost_by_month"
where close_month is null


