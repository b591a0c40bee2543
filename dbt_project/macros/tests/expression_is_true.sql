{#- Fails for every row where the expression is not true (dbt-utils semantics). -#}
{% test expression_is_true(model, expression, column_name=none) %}
    {{ return(adapter.dispatch('test_expression_is_true', 'trips_warehouse')(model, expression, column_name)) }}
{% endtest %}

{% macro default__test_expression_is_true(model, expression, column_name) %}
select *
from {{ model }}
{% if column_name is none %}
where not ({{ expression }})
{%- else %}
where not ({{ column_name }} {{ expression }})
{%- endif %}
{% endmacro %}
