{#-
    Postgres index for a post_hook. Run it with transaction: false: dbt drops the
    __dbt_backup relation (and its identically named indexes) only after the in-transaction
    hooks, so "if not exists" would otherwise see the old table's index on a full refresh.
-#}
{% macro create_index(relation, name, columns, include=none) -%}
    create index if not exists {{ adapter.quote(relation.identifier ~ '__' ~ name) }}
        on {{ relation }} ({{ columns | join(', ') }})
        {%- if include %} include ({{ include | join(', ') }}){% endif %}
{%- endmacro %}

{#-
    Drop an index that create_index made under an older name or definition (post_hook,
    transaction: false), so an existing warehouse is migrated without a full refresh.
-#}
{% macro drop_index(relation, name) -%}
    drop index if exists {{ adapter.quote(relation.schema) }}.{{ adapter.quote(relation.identifier ~ '__' ~ name) }}
{%- endmacro %}
