#!/usr/bin/env bash
# Install what is needed, then run every check: ruff, sqlfluff (via pytest), pytest.
# Tests use the PostgreSQL at 127.0.0.1:5432 (or TRIPS_TEST_ADMIN_URL) and fall back to an
# embedded server when none answers; they start their own Spark, dbt and Prefect server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
