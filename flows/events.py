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

Each event is also one line of the run's log (so the Prefect UI shows the stages), its record
carrying the event as :data:`STAGE_RECORD_ATTR`: ``trips ingest`` shows the stages on stderr
from these records (trips_cli/output.py).
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
# the attribute of a stage's log record holding the event: {"stage", "status", **payload}
STAGE_RECORD_ATTR = "trips_stage"

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
    _log_stage(stage, status, payload)
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


def describe_counts(payload: dict[str, Any]) -> str:
    """A stage event's counts in words: ``1 file, 2,000 rows read, 0 rows rejected``."""

    def words(key: str, value: Any) -> str:
        if key == "files":
            return f"{value:,} file{'' if value == 1 else 's'}"
        if key == "checks":
            return f"checks on {value} rows"
        label = key.replace("_", " ")
        return f"{value:,} {label}" if isinstance(value, int) else f"{label} {value}"

    skip = {"stage", "status", "flow_run_id", "duration_s", "error"}
    return ", ".join(words(k, v) for k, v in payload.items() if k not in skip)


def stage_message(stage: str, status: str, payload: dict[str, Any]) -> str:
    """One line for a stage event: ``landing completed in 20.9s: 1 file, 2,000 rows read``."""
    counts = describe_counts(payload)
    seconds = payload.get("duration_s")
    took = "" if seconds is None else f" {'after' if status == 'failed' else 'in'} {seconds:.1f}s"
    error = str(payload.get("error") or "")
    return f"{stage} {status}{took}" + (f": {error}" if error else f": {counts}" if counts else "")


def _log_stage(stage: str, status: str, payload: dict[str, Any]) -> None:
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        run_logger = get_run_logger()
    except MissingContextError:  # a run id from the environment, no run context
        return
    # INFO even when failed: the flow run's own error says it (once) at ERROR
    run_logger.info(
        stage_message(stage, status, payload),
        extra={STAGE_RECORD_ATTR: {"stage": stage, "status": status, **payload}},
    )
