-- accepted rows identical to another accepted row of the same file (all loaded). "if not
-- exists": warehouses created by the unversioned DDL since the whole-file checks have them.
alter table {raw}.ingestions add column if not exists rows_duplicate bigint;
alter table {raw}.ingestion_runs add column if not exists rows_duplicate bigint;
