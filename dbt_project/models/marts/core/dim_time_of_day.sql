{#- One row per time_of_day_bucket value; var('time_bucket_minutes') must divide 1440. -#}

{%- set bucket_minutes = var('time_bucket_minutes') | int %}

with

buckets as (

    select
        time_bucket,
        (time '00:00' + make_interval(mins => time_bucket * {{ bucket_minutes }})) as bucket_start

    from generate_series(0, {{ (1440 // bucket_minutes) - 1 }}) as time_bucket

),

final as (

    select
        time_bucket,
        to_char(bucket_start, 'HH24:MI')
        || '-'
        || to_char(bucket_start + interval '{{ bucket_minutes }} minutes' - interval '1 second', 'HH24:MI')
            as time_bucket_label,
        case
            when bucket_start < time '06:00' then 'night'
            when bucket_start < time '12:00' then 'morning'
            when bucket_start < time '18:00' then 'afternoon'
            else 'evening'
        end as day_part,
        bucket_start,
        (bucket_start + interval '{{ bucket_minutes }} minutes' - interval '1 second')::time as bucket_end

    from buckets

)

select * from final
