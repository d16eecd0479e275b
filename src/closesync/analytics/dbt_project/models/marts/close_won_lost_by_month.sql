{#- Won and lost opportunities by month and owner. A won opportunity counts at date_won, a lost one at
    date_lost (else its last update); days to close count calendar days
    from the creation date to date_won. -#}
with closed as (
    select
        o.user_id,
        coalesce(u.user_name, o.user_name) as user_name,
        o.status_type,
        o.value,
        case
            when o.status_type = 'won' then coalesce(o.date_won, cast(o.updated_at as date))
            else coalesce(o.date_lost, cast(o.updated_at as date))
        end as closed_on,
        case
            when o.status_type = 'won' and o.date_won is not null
                then {{ dbt.datediff('cast(o.created_at as date)', 'o.date_won', 'day') }}
        end as days_to_close
    from {{ ref('stg_close__opportunities') }} as o
    left join {{ ref('stg_close__users') }} as u on u.user_id = o.user_id
    where o.status_type in ('won', 'lost')
),

by_month as (
    select
        cast({{ dbt.date_trunc('month', 'closed_on') }} as date) as close_month,
        user_id,
        max(user_name) as user_name,
        sum(case when status_type = 'won' then 1 else 0 end) as won_count,
        sum(case when status_type = 'lost' then 1 else 0 end) as lost_count,
        sum(case when status_type = 'won' then value else 0 end) as won_value,
        sum(case when status_type = 'lost' then value else 0 end) as lost_value,
        sum(case when status_type = 'won' then days_to_close end) as total_days_to_close,
        count(days_to_close) as won_with_date
    from closed
    where closed_on is not null
    group by cast({{ dbt.date_trunc('month', 'closed_on') }} as date), user_id
)

select
    close_month,
    user_id,
    user_name,
    cast(won_count as {{ dbt.type_bigint() }}) as won_count,
    cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
    cast(won_value as {{ dbt.type_bigint() }}) as won_value,
    cast(lost_value as {{ dbt.type_bigint() }}) as lost_value,
    won_count * 1.0 / nullif(won_count + lost_count, 0) as win_rate,
    total_days_to_close,
    total_days_to_close / nullif(won_with_date, 0) as avg_days_to_close
from by_month
