#!/bin/sh
# prefect-worker container: wait for the Prefect API, then run the ingestion service. `trips serve`
# registers its deployments (trips-ingest/inbox, trips-dbt-build/nightly-checks) and runs their
# flow runs in this container: one per file arriving in TRIPS_INBOX_DIR, those started from the
# UI or API, and the nightly checks on their schedule.
set -eu

cd /opt/trips

echo "waiting for the Prefect API at ${PREFECT_API_URL}"
i=0
until python - <<'PY'
import os, sys, urllib.request
url = os.environ["PREFECT_API_URL"].rstrip("/") + "/health"
try:
    urllib.request.urlopen(url, timeout=3)
except Exception:
    sys.exit(1)
PY
do
    i=$((i + 1))
    [ "$i" -ge 60 ] && { echo "Prefect API not reachable" >&2; exit 1; }
    sleep 2
done

exec trips serve --no-server
