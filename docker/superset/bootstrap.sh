#!/bin/sh
# One-shot Superset bootstrap (the superset-init service); idempotent, safe to re-run:
#   docker compose run --rm superset-init
# 1. migrate the metadata database  2. create the admin / set its password from the env
# 3. default roles and permissions  4. import the trips dashboard bundle (assets/: the warehouse
# as the read-only reader, one dataset per mart the charts read, the charts, the dashboard).
# The datasets list their columns, so the import needs no built marts: the dashboard exists
# from the first start and its charts fill in once the first ingestion's dbt build is done.
set -eu

superset db upgrade
python /app/docker-trips/create_admin.py
superset init
python /app/docker-trips/import_assets.py
