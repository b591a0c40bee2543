#!/usr/bin/env bash
# Install what is needed, then run every check: ruff, sqlfluff (via pytest), pytest.
# Tests use the PostgreSQL at 127.0.0.1:5432 (or TRIPS_TEST_ADMIN_URL) and fall back to an
# embedded server when none answers; they start their own Spark, dbt and Prefect server.
# The dashboard test (tests/test_superset_dashboard.py) also needs a browser and Superset:
# Debian's chromium + chromedriver (apt-get, only when missing) and Superset's own virtualenv
# (`trips superset install`, only when missing: a few minutes, once).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium chromium-driver
fi
.venv/bin/trips superset install
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
