with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by date_updated desc) as _closesync_row
        from "close"."main"."users" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as user_id,
    first_name,
    last_name,
    coalesce(nullif(trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), ''), email) as user_name,
    email,
    (date_created at time zone 'UTC') as created_at,
    (date_updated at time zone 'UTC') as updated_at
from latest