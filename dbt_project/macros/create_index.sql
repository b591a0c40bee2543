{#-
    Postgres index for a post_hook. `columns` may be expressions (each is wrapped in
    parentheses), so that an index holds a value the table does not store, e.g. trip_cell()
    of a coordinate: a query writing the same expression uses it. Run it with
    transaction: false: dbt drops the
    __dbt_backup relation (and its identically named indexes) only after the in-transaction
    hooks, so "if not exists" would otherwise see the old table's index on a full refresh.
-#}
{% macro create_index(relation, name, columns, include=none, using='btree', fillfactor=none) -%}
    {{ return(adapter.dispatch('create_index', 'trips_warehouse')(relation, name, columns, include, using, fillfactor)) }}
{%- endmacro %}

{#- Postgres: expression indexes, `using <method>`, covering `include`, `fillfactor`. -#}
{% macro postgres__create_index(relation, name, columns, include, using, fillfactor) -%}
    create index if not exists {{ adapter.quote(relation.identifier ~ '__' ~ name) }}
        on {{ relation }} using {{ using }} (({{ columns | join('), (') }}))
        {%- if include %} include ({{ include | join(', ') }}){% endif %}
        {%- if fillfactor %} with (fillfactor = {{ fillfactor }}){% endif %}
{%- endmacro %}
