with latest as ({{ closesync_latest(source('closesync', 'users')) }})
select
    cast(id as {{ dbt.type_string() }}) as user_id,
    first_name,
    last_name,
    coalesce(
        nullif(trim({{ dbt.concat(["coalesce(first_name, '')", "' '", "coalesce(last_name, '')"]) }}), ''), email
    ) as user_name,
    email,
    {{ closesync_utc('date_created') }} as created_at,
    {{ closesync_utc('date_updated') }} as updated_at
from latest
