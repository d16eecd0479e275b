{#- Each stay of a lead in a status, from the lead status change activities: a stay starts with a change
    and ends with the lead's next change (still open for its latest). -#}
with stays as (
    select
        lead_status_change_id as stay_id,
        lead_id,
        new_lead_status_id as status_id,
        new_status_label as status_label,
        old_lead_status_id as previous_status_id,
        old_status_label as previous_status_label,
        user_id,
        user_name,
        activity_at as entered_at,
        lead(activity_at) over (partition by lead_id order by activity_at, lead_status_change_id) as exited_at
    from {{ ref('stg_close__lead_status_changes') }}
)

select
    s.stay_id,
    s.lead_id,
    s.status_id,
    coalesce(ls.status_label, s.status_label) as status_label,
    s.previous_status_id,
    s.previous_status_label,
    s.user_id,
    coalesce(u.user_name, s.user_name) as user_name,
    s.entered_at,
    s.exited_at,
    {{ closesync_days_between('s.entered_at', 'coalesce(s.exited_at, ' ~ closesync_now() ~ ')') }} as days_in_status,
    s.exited_at is null as is_current
from stays as s
left join {{ ref('stg_close__lead_statuses') }} as ls on ls.lead_status_id = s.status_id
left join {{ ref('stg_close__users') }} as u on u.user_id = s.user_id
