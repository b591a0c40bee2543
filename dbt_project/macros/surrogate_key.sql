{#-
    dbt-utils style surrogate key: md5 of the columns cast to text, joined with '-',
    nulls replaced by '_dbt_null_' so (null, 'a') and ('a', null) differ.
-#}
{% macro surrogate_key(field_list) -%}
    {{ return(adapter.dispatch('surrogate_key', 'trips_warehouse')(field_list)) }}
{%- endmacro %}

{#- Postgres: md5() and `||`. dbt-utils builds the portable one from dbt.hash(dbt.concat()). -#}
{% macro postgres__surrogate_key(field_list) -%}
    {%- set fields = [] -%}
    {%- for field in field_list -%}
        {%- do fields.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_dbt_null_')") -%}
        {%- if not loop.last -%}
            {%- do fields.append("'-'") -%}
        {%- endif -%}
    {%- endfor -%}
    md5({{ fields | join(' || ') }})
{%- endmacro %}
