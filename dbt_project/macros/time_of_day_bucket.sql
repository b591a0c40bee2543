{#-
    Time-of-day bucket (0-based) of a timestamp: minutes since midnight divided by
    var('time_bucket_minutes'); seconds are ignored, so 00:29:59 is bucket 0 and 00:30:00 is 1.
-#}
{% macro time_of_day_bucket(ts_expr) -%}
    {{ return(adapter.dispatch('time_of_day_bucket', 'trips_warehouse')(ts_expr)) }}
{%- endmacro %}

{#- Postgres: `::integer` and integer division that truncates (not every engine's `/`). -#}
{% macro postgres__time_of_day_bucket(ts_expr) -%}
    ((extract(hour from {{ ts_expr }}) * 60 + extract(minute from {{ ts_expr }}))::integer
        / {{ var('time_bucket_minutes') }})
{%- endmacro %}
