{#- Tasks by assignee: open, overdue (open and due before the build) and completed. -#}
select
    t.user_id,
    max(coalesce(u.user_name, t.user_name)) as user_name,
    cast(sum(case when not t.is_complete then 1 else 0 end) as {{ dbt.type_bigint() }}) as open_tasks,
    cast(sum(case when not t.is_complete and t.due_at < {{ closesync_now() }} then 1 else 0 end)
         as {{ dbt.type_bigint() }}) as overdue_tasks,
    cast(sum(case when t.is_complete then 1 else 0 end) as {{ dbt.type_bigint() }}) as completed_tasks,
    min(case when not t.is_complete then t.due_at end) as oldest_open_due
from {{ ref('stg_close__tasks') }} as t
left join {{ ref('stg_close__users') }} as u on u.user_id = t.user_id
where t.user_id is not null
group by t.user_id
