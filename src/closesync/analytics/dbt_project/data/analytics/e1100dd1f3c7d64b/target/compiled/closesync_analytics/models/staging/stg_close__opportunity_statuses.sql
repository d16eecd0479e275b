with latest as (select *
    from (
        select
            src.*,
            row_number() over (partition by src.id order by label desc) as _closesync_row
        from "close"."main"."opportunity_statuses" as src
        where src.id is not null
    ) as ranked
    where _closesync_row = 1)
select
    cast(id as TEXT) as opportunity_status_id,
    label as status_label,
    lower(type) as status_type,
    cast(pipeline_id as TEXT) as pipeline_id
from latest