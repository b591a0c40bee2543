#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d), as
# $POSTGRES_USER (superuser). Creates the metadata databases of Prefect and Superset next to the
# warehouse database $POSTGRES_DB, then the warehouse roles (trips-roles.psql): the pipeline's
# own role, owner of the warehouse schemas, and a read-only role Superset queries the marts with.
# Values reach SQL as psql variables (:'name'), never by string pasting.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$POSTGRES_USER" <<'SQL'
select format('create database %I owner %I', 'prefect', :'owner')
where not exists (select from pg_database where datname = 'prefect') \gexec
select format('create database %I owner %I', 'superset', :'owner')
where not exists (select from pg_database where datname = 'superset') \gexec
SQL

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$POSTGRES_USER" \
    -v pipeline="$TRIPS_PIPELINE_USER" \
    -v pipeline_password="$TRIPS_PIPELINE_PASSWORD" \
    -v reader="$SUPERSET_READER_USER" \
    -v reader_password="$SUPERSET_READER_PASSWORD" \
    -f "$(dirname "$0")/trips-roles.psql"
