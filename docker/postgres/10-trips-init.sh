#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d), as
# $POSTGRES_USER (superuser). Creates the metadata databases of Prefect and Superset next to the
# warehouse database $POSTGRES_DB, and a read-only role Superset uses to query the dbt marts.
# Values reach SQL as psql variables (:'name'), never by string pasting.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$POSTGRES_USER" \
    -v reader="$SUPERSET_READER_USER" \
    -v reader_password="$SUPERSET_READER_PASSWORD" <<'SQL'
select format('create database %I owner %I', 'prefect', :'owner')
where not exists (select from pg_database where datname = 'prefect') \gexec
select format('create database %I owner %I', 'superset', :'owner')
where not exists (select from pg_database where datname = 'superset') \gexec

select format('create role %I login password %L', :'reader', :'reader_password')
where not exists (select from pg_roles where rolname = :'reader') \gexec
-- read-only even where a grant would allow more, and no query runs away with the database
alter role :"reader" set default_transaction_read_only = on;
alter role :"reader" set statement_timeout = '60s';

-- dbt builds the marts as $POSTGRES_USER; create the schema now so the grants can be set
-- before the first build, and make every table dbt creates there readable by the reader.
create schema if not exists marts authorization :"owner";
grant connect on database :"DBNAME" to :"reader";
grant usage on schema marts to :"reader";
grant select on all tables in schema marts to :"reader";
alter default privileges for role :"owner" in schema marts grant select on tables to :"reader";
SQL
