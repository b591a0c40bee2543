#!/usr/bin/env bash
# The main job end to end on embedded defaults (no Docker, no database server needed):
# generate a sample, ingest it through the Prefect flow (Spark -> parquet -> COPY -> dbt build),
# then show the answers. Everything lives under $TRIPS_DATA_DIR (default ./.trips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
export TRIPS_DATA_DIR=${TRIPS_DATA_DIR:-$PWD/.trips}
ROWS=${ROWS:-200000}
trips=.venv/bin/trips
sample="$TRIPS_DATA_DIR/sample/trips-$ROWS.csv"

echo "== generating $ROWS trips (0.1% malformed, to show the quarantine)"
[ -f "$sample" ] || $trips generate --rows "$ROWS" --out "$sample" --seed 42 --bad-rows 0.001
echo "== ingesting (local Prefect server + embedded PostgreSQL)"
$trips ingest "$sample"
echo "== the two questions"
$trips answer
echo "== weekly average number of trips"
$trips weekly-average --region Prague
$trips weekly-average --bbox 14.40,50.05,14.45,50.10
echo "== the largest groups of similar trips"
$trips groups --limit 5
echo
# `trips server status`: "running: API <url>, UI <url>" (a server on another data dir's port is
# never taken for ours: flows/server.py starts ours on a free port then)
ui=$($trips server status 2>/dev/null | sed -n 's/.*UI \(http[^ ,]*\).*/\1/p' || true)
echo "Prefect UI:     ${ui:-not running (start it: $trips server start)}"
echo "Database:       $($trips db url)"
echo "dbt docs:       $trips dbt docs generate && $trips dbt docs serve --port 8080"
echo "Stop services:  $trips server stop && $trips db stop"
