"""Custom Prefect events emitted by the ingestion flow, one per stage start and end.

Contract (consumed by the ``progress`` automation in flows/automations.py, by ``trips watch``
and by the message templates in flows/notifications.py):

* name: ``trips.ingestion.<stage>.<status>``, stage in :data:`STAGES`, status in
  :data:`STATUSES`;
* resource: ``trips.ingestion.<flow run id>`` named after the flow run;
* related: the flow run (role ``flow-run``); Prefect adds the flow, tags etc. from the run context;
* payload: ``stage``, ``status``, ``flow_run_id`` plus the stage's counts, any of
  :data:`COUNT_KEYS` (``duration_s`` in seconds, ``error`` the error text on ``failed``,
  ``checks`` on ``dbt_build.completed``: ``new`` or ``all``, the rows the dbt tests read).

Emitting never fails the flow: outside a flow run it is a no-op, and Prefect's events client
sends in the background (errors are logged by Prefect, not raised).
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.events import emit_event
from prefect.runtime import flow_run

# the flows whose runs the automations and ``trips watch`` follow
FLOW_NAME = "trips-ingest"
CHECKS_FLOW_NAME = "trips-dbt-build"

STAGES = ("landing", "load", "dbt_build", "archive")
STATUSES = ("started", "completed", "failed")
COUNT_KEYS = (
    "files",
    "rows_read",
    "rows_rejected",
    "rows_loaded",
    "models_built",
    "tests_passed",
    "tests_failed",
    "checks",
    "batches_archived",
    "rows_archived",
    "duration_s",
    "error",
)
EVENT_PREFIX = "trips.ingestion."

logger = logging.getLogger(__name__)


def event_name(stage: str, status: str) -> str:
    return f"{EVENT_PREFIX}{stage}.{status}"


def emit_stage(stage: str, status: str, **payload: Any) -> None:
    """Emit one stage event, related to the current flow run (no-op outside a flow run)."""
    if stage not in STAGES or status not in STATUSES:
        logger.warning("unknown stage event %s.%s (emitted anyway)", stage, status)
    unknown = set(payload) - set(COUNT_KEYS)
    if unknown:
        logger.warning("stage event %s.%s: keys outside the contract %s", stage, status, unknown)
    run_id = flow_run.get_id()
    if not run_id:
        return
    emit_event(
        event=event_name(stage, status),
        resource={
            "prefect.resource.id": f"trips.ingestion.{run_id}",
            "prefect.resource.name": flow_run.get_name() or str(run_id),
        },
        related=[
            {
                "prefect.resource.id": f"prefect.flow-run.{run_id}",
                "prefect.resource.role": "flow-run",
            }
        ],
        payload={"stage": stage, "status": status, "flow_run_id": str(run_id), **payload},
    )
