#!/usr/bin/env bash
# Install what is needed, then run the checks. Two tiers (README "Development"):
#   bash scripts/test.sh [pytest args]         everything: ruff, sqlfluff (via pytest), pytest
#                                              tests/unit then tests/integration (what CI runs)
#   bash scripts/test.sh quick [pytest args]   ruff and tests/unit only: no services, < 1 min
# The integration tests use the PostgreSQL at 127.0.0.1:5432 (or TRIPS_TEST_ADMIN_URL) and fall
# back to an embedded server when none answers; they start their own Spark, dbt and Prefect
# server. The dashboard test (tests/integration/test_superset_dashboard.py) also needs a browser
# and Superset: Debian's chromium + chromedriver (apt-get, only when missing) and Superset's own
# virtualenv (`trips superset install`, only when missing: a few minutes, once).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=false
if [ "${1:-}" = "quick" ]; then
  quick=true
  shift
fi
bash scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
if $quick; then
  # both reports, whichever fails
  status=0
  .venv/bin/ruff check . || status=1
  .venv/bin/python -m pytest tests/unit "$@" || status=$?
  exit "$status"
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium chromium-driver
fi
.venv/bin/trips superset install
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
