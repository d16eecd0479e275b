with activities as (
    select cast(activity_at as date) as activity_date, user_id, user_name, cast('call' as TEXT) as kind,
           direction, status, duration_seconds
    from "close"."analytics"."stg_close__calls"
    union all
    select cast(activity_at as date), user_id, user_name, cast('email' as TEXT), direction, status, 0
    from "close"."analytics"."stg_close__emails"
    union all
    select cast(activity_at as date), user_id, user_name, cast('note' as TEXT), null, null, 0
    from "close"."analytics"."stg_close__notes"
    union all
    select cast(activity_at as date), user_id, user_name, cast('meeting' as TEXT), null, null, 0
    from "close"."analytics"."stg_close__meetings"
    union all
    select cast(activity_at as date), user_id, user_name, cast('sms' as TEXT), direction, null, 0
    from "close"."analytics"."stg_close__sms"
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
        sum(case when kind = 'meeting' then 1 else 0 end) as meetings,
        sum(case when kind = 'sms' and direction = 'outbound' then 1 else 0 end) as sms_sent,
        sum(case when kind = 'sms' and direction = 'inbound' then 1 else 0 end) as sms_received
    from activities as a
    left join "close"."analytics"."stg_close__users" as u on u.user_id = a.user_id
    where a.activity_date is not null
    group by a.activity_date, a.user_id
)

select
    activity_date,
    user_id,
    user_name,
    cast(calls as bigint) as calls,
    cast(calls_outbound as bigint) as calls_outbound,
    cast(calls_inbound as bigint) as calls_inbound,
    cast(call_duration_seconds as bigint) as call_duration_seconds,
    cast(emails_sent as bigint) as emails_sent,
    cast(emails_received as bigint) as emails_received,
    cast(notes as bigint) as notes,
    cast(meetings as bigint) as meetings,
    cast(sms_sent as bigint) as sms_sent,
    cast(sms_received as bigint) as sms_received,
    cast(calls + emails_sent + emails_received + notes + meetings + sms_sent + sms_received
         as bigint) as total_activities
from counted