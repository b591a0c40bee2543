{#-
    Per-ingestion checks scope.

    A full check of every row grows with the warehouse (at 27M trips the data tests took
    ~335 s of node time, ~12 min of wall time projected at 100M, on every ingestion). So the
    ingest flow (flows/ingest.py) passes what its last successful build had checked:

        --vars '{checks_since: "<timestamptz>", checks_since_batch: <bigint>}'

    and excludes tag:nightly. Then the data tests of a model whose meta has `checks_scope`
    read only the rows that arrived since: for each generic test, get_where_subquery below
    adds `<column> > <that var>` to the model under test; singular tests call
    checks_scope_predicate themselves. Models whose rows are never rewritten (fct_trips is
    append-only, raw tables are append-only) are the only ones scoped, so an old row passed
    its checks when it arrived and cannot have changed since.

    Without the vars (the nightly `trips-dbt-build` run, `trips dbt build`, the first build,
    TRIPS_DBT_CHECKS=all, the tests of this repository unless they pass them) every test
    reads every row, with the same SQL as without this macro.
-#}

{#- `<column> > <var>` cast to `type`, or `true` when the var is not set. -#}
{% macro checks_scope_predicate(column, var_name, type) -%}
    {%- set since = var(var_name, none) -%}
    {%- if since is none or since == '' -%}
    true
    {%- else -%}
    {{ column }} > cast('{{ since }}' as {{ type }})
    {%- endif -%}
{%- endmacro %}


{#-
    dbt wraps the model of every generic test in get_where_subquery (dbt's own version applies
    the test's `where` config). This one also applies the tested model's
    meta.checks_scope = {column, var, type} when that var is set.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = none -%}
    {%- if execute and model.attached_node and model.attached_node in graph.nodes -%}
        {%- set scope = graph.nodes[model.attached_node].config.get('meta', {}).get('checks_scope') -%}
    {%- endif -%}
    {%- set predicates = [] -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if scope and var(scope['var'], none) not in (none, '') -%}
        {%- do predicates.append(checks_scope_predicate(scope['column'], scope['var'], scope['type'])) -%}
    {%- endif -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
