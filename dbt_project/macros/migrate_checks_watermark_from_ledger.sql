{#-
    One-off, for a warehouse whose ingestion runs recorded the checks watermark in
    raw.ingestion_runs (checked_loaded_at, checked_batch_id) before dbt owned it
    (macros/checks_scope.sql): copies the last one into dbt's table, so the next ingestion
    does not test every row again, and drops the two columns. Does nothing on a warehouse
    without them. Run once, under no ingestion:

        trips dbt run-operation migrate_checks_watermark_from_ledger
-#}
{% macro migrate_checks_watermark_from_ledger() %}
    {%- set runs = var('raw_schema') ~ '.ingestion_runs' -%}
    {%- set columns -%}
        select count(*)
        from information_schema.columns
        where
            table_schema = '{{ var('raw_schema') }}'
            and table_name = 'ingestion_runs'
            and column_name in ('checked_loaded_at', 'checked_batch_id')
    {%- endset -%}
    {%- if run_query(columns).columns[0].values()[0] != 2 -%}
        {{ log('no checked_* columns in ' ~ runs ~ ': nothing to migrate', info=True) }}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = checks_watermark_relation() -%}
    {%- set migrate -%}
        {{ create_checks_watermark() }}
        insert into {{ relation }} (invocation_id, checks, checked_loaded_at, checked_batch_id)
        select 'migrated from {{ runs }}', 'new', max(checked_loaded_at), max(checked_batch_id)
        from {{ runs }}
        where checked_loaded_at is not null
        having
            count(*) > 0
            and not exists (select 1 from {{ relation }});
        alter table {{ runs }} drop column checked_loaded_at, drop column checked_batch_id;
    {%- endset -%}
    {%- do run_query(migrate) -%}
    {{ log('migrated the checks watermark of ' ~ runs ~ ' to ' ~ relation, info=True) }}
{% endmacro %}
