{#-
    The checks scope: which rows a build's data tests read. This file owns the concept.

    A check of every row grows with the warehouse (at 27M trips the data tests took ~335 s of
    node time, ~12 min of wall time projected at 100M, on every ingestion). The rows of the
    append-only relations (raw batches, fct_trips) do not change once they passed their
    tests, so a build only needs to test the rows that arrived since the last build whose
    checks passed:

    * var `checks` (the pipeline passes it: the ingest flow TRIPS_DBT_CHECKS, `new` by
      default; the nightly build `all`): `new` tests only the rows above the watermark, `all`
      (or not set: a build by hand) tests every row;
    * the watermark is dbt's own: `record_checks_watermark`, the project's on-run-end hook,
      appends the high-water marks (fct_trips' max loaded_at, raw.load_batches' max batch_id)
      to dbt_meta.checks_watermark when the invocation passed every test;
    * a data test declares its scope: a generic one in its YAML,
      `where: "{% raw %}{{ checks_scope('batch_id') }}{% endraw %}"` (get_where_subquery
      below), a singular one by calling checks_scope in its SQL.

    Which tests run (the full-table `nightly` ones are left out of ingestions) is the
    selector `ingestion_checks` (selectors.yml), not this file.
-#}


{#- The table of the watermarks, one row per invocation whose checks passed. -#}
{% macro checks_watermark_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema='dbt_meta',
                                  identifier='checks_watermark')) }}
{%- endmacro %}


{#- SQL creating checks_watermark_relation() when it is missing. -#}
{% macro create_checks_watermark() -%}
    {%- set relation = checks_watermark_relation() -%}
    create schema if not exists {{ relation.schema }};
    create table if not exists {{ relation }} (
        invocation_id text not null,
        -- the invocation's var checks: 'new' or 'all'
        checks text not null,
        -- how far its tests read: fct_trips.loaded_at, raw batch ids (null: no rows yet)
        checked_loaded_at timestamptz,
        checked_batch_id bigint,
        recorded_at timestamptz not null default clock_timestamp()
    );
{%- endmacro %}


{#- The value of var `checks`: 'new' or 'all' (the default). -#}
{% macro checks_mode() -%}
    {%- set checks = var('checks', 'all') -%}
    {%- if checks not in ('new', 'all') -%}
        {{ exceptions.raise_compiler_error(
            "var checks must be 'new' or 'all', not '" ~ checks ~ "'") }}
    {%- endif -%}
    {{ return(checks) }}
{%- endmacro %}


{#-
    `<column> > <last passing checks' high-water mark>` in a `new` build that has one, else
    `true`. `watermark` names the mark: 'loaded_at' (fct_trips.loaded_at, timestamptz) or
    'batch_id' (raw batch ids, bigint); `column` defaults to the same name.
-#}
{% macro checks_scope(watermark, column=none) -%}
    {%- set types = {'loaded_at': 'timestamptz', 'batch_id': 'bigint'} -%}
    {%- if watermark not in types -%}
        {{ exceptions.raise_compiler_error("checks_scope: no watermark '" ~ watermark ~ "'") }}
    {%- endif -%}
    {%- set since = none -%}
    {#- at parse time (execute false) the predicate is never run -#}
    {%- if execute and checks_mode() == 'new' -%}
        {%- set relation = checks_watermark_relation() -%}
        {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
            {%- set last -%}
                select checked_{{ watermark }}::text
                from {{ relation }}
                order by recorded_at desc
                limit 1
            {%- endset -%}
            {%- set rows = run_query(last).rows -%}
            {%- set since = rows[0][0] if rows else none -%}
        {%- endif -%}
    {%- endif -%}
    {%- if since is none -%}
    true
    {%- else -%}
    {{ column or watermark }} > cast('{{ since }}' as {{ types[watermark] }})
    {%- endif -%}
{%- endmacro %}


{#-
    on-run-end (dbt_project.yml). Appends the high-water marks the tests just covered to
    checks_watermark_relation(), creating it when missing, if the invocation
    - was a `build` or `test` of the pipeline: var `checks` given (the runs that hold the
      pipeline lock, so nothing arrives between the tests and this hook; a build by hand
      does not move the watermark),
    - passed: every node succeeded or warned, as for dbt (a failed or skipped test keeps the
      watermark, so the next build tests those rows again),
    - ran every scoped test (a `--select` of a few models checked only their rows).
-#}
{% macro record_checks_watermark(results) -%}
    {%- if not execute or flags.WHICH not in ('build', 'test') or not var.has_var('checks') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set passed = [] -%}
    {%- set failed = [] -%}
    {%- for result in results -%}
        {#- what fails a dbt build, and what it skips: a warning or a no-op (an exposure) does not -#}
        {%- if result.status in ('error', 'fail', 'runtime error', 'skipped') -%}
            {%- do failed.append(result.node.name ~ ' ' ~ result.status) -%}
        {%- else -%}
            {%- do passed.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set not_run = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' -%}
        {%- set scoped = 'checks_scope(' in (node.config.get('where') or '')
            or 'macro.trips_warehouse.checks_scope' in node.depends_on.macros -%}
        {%- if scoped and node.unique_id not in passed -%}
            {%- do not_run.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if failed or not_run -%}
        {%- set why = failed | length ~ ' nodes failed or skipped, ' ~ failed[:3] if failed
            else not_run | length ~ ' scoped tests not run, ' ~ not_run[:3] -%}
        {{ log('checks watermark kept: ' ~ why, info=True) }}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = checks_watermark_relation() -%}
    {#- a hook cannot ref() a model it does not depend on: the relations from the graph -#}
    {%- set fct = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', 'fct_trips') | first -%}
    {%- set batches = graph.sources.values() | selectattr('source_name', 'equalto', 'raw')
        | selectattr('name', 'equalto', 'load_batches') | first -%}
    {{ create_checks_watermark() }}
    insert into {{ relation }} (invocation_id, checks, checked_loaded_at, checked_batch_id)
    select
        '{{ invocation_id }}',
        '{{ checks_mode() }}',
        (select max(loaded_at) from {{ fct.relation_name }}),
        (select max(batch_id) from {{ batches.relation_name }});
{%- endmacro %}


{#-
    dbt wraps the model of every generic test in get_where_subquery and applies the test's
    `where` config. dbt renders that config when it parses the YAML, without the project's
    macros (a call of one fails the parse), so this version renders it again at run time:
    `where: "{% raw %}{{ checks_scope('batch_id') }}{% endraw %}"` reaches run time as the
    call, and becomes the predicate of this invocation. A `where` that renders to `true`
    filters nothing, and the test reads the model itself, as dbt's does without a `where`.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = render(config.get('where') or '') | trim -%}
    {%- if where and where != 'true' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
