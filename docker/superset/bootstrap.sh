#!/bin/sh
# One-shot Superset bootstrap (the superset-init service); idempotent, safe to re-run:
#   docker compose run --rm superset-init
# 1. migrate the metadata database  2. create/refresh the admin user  3. default roles
# 4. register the warehouse database and a dataset for every table in the dbt marts schema.
set -eu

superset db upgrade

if superset fab list-users 2>/dev/null | grep -qE "username:${SUPERSET_ADMIN_USERNAME}( |\$)"; then
    echo "admin user ${SUPERSET_ADMIN_USERNAME} exists"
else
    superset fab create-admin \
        --username "$SUPERSET_ADMIN_USERNAME" \
        --firstname "${SUPERSET_ADMIN_FIRSTNAME:-Trips}" \
        --lastname "${SUPERSET_ADMIN_LASTNAME:-Admin}" \
        --email "$SUPERSET_ADMIN_EMAIL" \
        --password "$SUPERSET_ADMIN_PASSWORD"
fi

superset init

python /app/docker-trips/register_warehouse.py
