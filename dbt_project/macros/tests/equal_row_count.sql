{#- Fails (one row) when the model and compare_model have different row counts. -#}
{% test equal_row_count(model, compare_model) %}
    {{ return(adapter.dispatch('test_equal_row_count', 'trips_warehouse')(model, compare_model)) }}
{% endtest %}

{% macro default__test_equal_row_count(model, compare_model) %}
with a as (
    select count(*) as count_a from {{ model }}
),

b as (
    select count(*) as count_b from {{ compare_model }}
),

final as (
    select
        a.count_a,
        b.count_b,
        abs(a.count_a - b.count_b) as diff_count
    from a
    cross join b
)

select * from final
where diff_count > 0
{% endmacro %}
