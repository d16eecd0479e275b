{#- Leads by status: how many are there now, how many ever entered, moves in and out, mean finished stay. -#}
with leads_now as (
    select lead_status_id as status_id, count(*) as leads_now
    from {{ ref('stg_close__leads') }}
    group by lead_status_id
),

entries as (
    select new_lead_status_id as status_id, lead_id from {{ ref('stg_close__lead_status_changes') }}
    union
    select lead_status_id, lead_id from {{ ref('stg_close__leads') }}
),

entered as (
    select status_id, count(distinct lead_id) as leads_entered from entries group by status_id
),

moves_in as (
    select new_lead_status_id as status_id, count(*) as changes_in
    from {{ ref('stg_close__lead_status_changes') }}
    group by new_lead_status_id
),

moves_out as (
    select old_lead_status_id as status_id, count(*) as changes_out
    from {{ ref('stg_close__lead_status_changes') }}
    group by old_lead_status_id
),

finished_stays as (
    select status_id, avg(days_in_status) as avg_days_in_status
    from {{ ref('close_lead_time_in_status') }}
    where not is_current
    group by status_id
)

select
    s.lead_status_id as status_id,
    s.status_label,
    cast(coalesce(n.leads_now, 0) as {{ dbt.type_bigint() }}) as leads_now,
    cast(coalesce(e.leads_entered, 0) as {{ dbt.type_bigint() }}) as leads_entered,
    cast(coalesce(i.changes_in, 0) as {{ dbt.type_bigint() }}) as changes_in,
    cast(coalesce(o.changes_out, 0) as {{ dbt.type_bigint() }}) as changes_out,
    f.avg_days_in_status
from {{ ref('stg_close__lead_statuses') }} as s
left join leads_now as n on n.status_id = s.lead_status_id
left join entered as e on e.status_id = s.lead_status_id
left join moves_in as i on i.status_id = s.lead_status_id
left join moves_out as o on o.status_id = s.lead_status_id
left join finished_stays as f on f.status_id = s.lead_status_id
