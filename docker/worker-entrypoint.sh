#!/bin/sh
# prefect-worker container: make sure the work pool and the deployments of prefect.yaml exist on
# the server (both idempotent), then run a process worker that executes flow runs here.
set -eu

POOL="${TRIPS_WORK_POOL:-trips}"
cd /opt/trips

echo "waiting for the Prefect API at ${PREFECT_API_URL}"
i=0
until prefect version >/dev/null 2>&1 && python - <<'PY'
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

prefect work-pool inspect "$POOL" >/dev/null 2>&1 \
    || prefect work-pool create "$POOL" --type process
prefect --no-prompt deploy --all

exec prefect worker start --pool "$POOL" --type process --name "worker-$(hostname)"
