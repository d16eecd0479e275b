{#- Activity per user per UTC day, by type. Meetings and SMS come from optional reports (0 without them).
    Like emails, an SMS counts as sent once Close sent it (not scheduled, queued or failed); a meeting counts
    unless it was canceled or declined. -#}
{%- set kind = dbt.type_string() -%}
with activities as (
    select cast(activity_at as date) as activity_date, user_id, user_name, cast('call' as {{ kind }}) as kind,
           direction, status, duration_seconds
    from {{ ref('stg_close__calls') }}
    union all
    select cast(activity_at as date), user_id, user_name, cast('email' as {{ kind }}), direction, status, 0
    from {{ ref('stg_close__emails') }}
    union all
    select cast(activity_at as date), user_id, user_name, cast('note' as {{ kind }}), null, null, 0
    from {{ ref('stg_close__notes') }}
    union all
    select cast(activity_at as date), user_id, user_name, cast('meeting' as {{ kind }}), null, status, 0
    from {{ ref('stg_close__meetings') }}
    union all
    select cast(activity_at as date), user_id, user_name, cast('sms' as {{ kind }}), direction, status, 0
    from {{ ref('stg_close__sms') }}
),

counted as (
    select
        a.activity_date,
        a.user_id,
        max(coalesce(u.user_name, a.user_name)) as user_name,
        sum(case when kind = 'call' then 1 else 0 end) as calls,
        sum(case when kind = 'call' and direction = 'outbound' then 1 else 0 end) as calls_outbound,
        sum(case when kind = 'call' and direction = 'inbound' then 1 else 0 end) as calls_inbound,
        sum(case when kind = 'call' then duration_seconds else 0 end) as call_duration_seconds,
        sum(case when kind = 'email' and direction = 'outgoing' and status = 'sent' then 1 else 0 end) as emails_sent,
        sum(case when kind = 'email' and direction = 'incoming' then 1 else 0 end) as emails_received,
        sum(case when kind = 'note' then 1 else 0 end) as notes,
        sum(case when kind = 'meeting' and coalesce(status, '') not in ('canceled', 'declined-by-lead',
                                                                        'declined-by-org') then 1 else 0 end) as meetings,
        sum(case when kind = 'sms' and direction = 'outbound' and coalesce(status, 'sent') = 'sent' then 1 else 0 end) as sms_sent,
        sum(case when kind = 'sms' and direction = 'inbound' then 1 else 0 end) as sms_received
    from activities as a
    left join {{ ref('stg_close__users') }} as u on u.user_id = a.user_id
    where a.activity_date is not null
    group by a.activity_date, a.user_id
)

select
    activity_date,
    user_id,
    user_name,
    {%- for column in ['calls', 'calls_outbound', 'calls_inbound', 'call_duration_seconds', 'emails_sent',
                       'emails_received', 'notes', 'meetings', 'sms_sent', 'sms_received'] %}
    cast({{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
    {%- endfor %}
    cast(calls + emails_sent + emails_received + notes + meetings + sms_sent + sms_received
         as {{ dbt.type_bigint() }}) as total_activities
from counted
