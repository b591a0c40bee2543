"""Custom Prefect events emitted by the ingestion flow (contract; refined by the notifications work).

Event names: ``trips.ingestion.<stage>.<status>`` with stage in {landing, load, dbt_build} and
status in {started, completed, failed}. The payload carries the stage's counts.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event
from prefect.runtime import flow_run

STAGES = ("landing", "load", "dbt_build")


def emit_stage(stage: str, status: str, **payload: Any) -> None:
    """Emit one stage event, related to the current flow run (no-op outside a flow run)."""
    run_id = flow_run.get_id()
    if not run_id:
        return
    emit_event(
        event=f"trips.ingestion.{stage}.{status}",
        resource={
            "prefect.resource.id": f"trips.ingestion.{run_id}",
            "prefect.resource.name": flow_run.get_name() or str(run_id),
        },
        related=[{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}],
        payload={"stage": stage, "status": status, "flow_run_id": str(run_id), **payload},
    )
