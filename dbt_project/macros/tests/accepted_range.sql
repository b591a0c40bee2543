{#- Fails for every row whose column is outside [min_value, max_value] (either bound optional). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {{ return(adapter.dispatch('test_accepted_range', 'trips_warehouse')(model, column_name, min_value, max_value, inclusive)) }}
{% endtest %}

{% macro default__test_accepted_range(model, column_name, min_value, max_value, inclusive) %}
with meet_condition as (
    select {{ column_name }} as column_value
    from {{ model }}
),

validation_errors as (
    select *
    from meet_condition
    where
        1 = 2
        {%- if min_value is not none %}
        or not (column_value {{ ">=" if inclusive else ">" }} {{ min_value }})
        {%- endif %}
        {%- if max_value is not none %}
        or not (column_value {{ "<=" if inclusive else "<" }} {{ max_value }})
        {%- endif %}
)

select * from validation_errors
{% endmacro %}
