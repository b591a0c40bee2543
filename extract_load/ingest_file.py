"""One file's way through the ledger: check -> land (once) -> load -> marked loaded.

Plain functions over a psycopg connection (and, for :func:`land`, a Spark session); the Prefect
tasks in ``flows/ingest.py`` call them. Each step records its outcome in the ledger
(``raw.ingestions``), which gates what the marts see: dbt's intermediate layer keeps only rows
of files whose status is ``loaded``, so a half-loaded file is invisible until a re-run
completes it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from extract_load import ledger
from extract_load.landing import Lake, LandingResult, count_rows, land_file
from extract_load.loader import REJECTED_TABLE, TRIPS_TABLE, load_landed, loaded_row_count
from extract_load.sources import SourceError, SourceFile, inspect_source

log = logging.getLogger(__name__)


class ReconciliationError(RuntimeError):
    """Loaded row counts do not match landed row counts."""


@dataclass
class FileOutcome:
    """What happened to one source file in one run."""

    path: str
    file_hash: str
    status: str  # loaded | skipped | refused
    rows_read: int = 0
    rows_rejected: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    message: str = ""


def unreadable_key(path: Path) -> str:
    """Ledger key of a file whose bytes could not be read (no content hash exists)."""
    return "unreadable:" + hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()


def refuse(conn: psycopg.Connection, path: Path, reason: str, *, raw: str,
           run_id: str | None, file_hash: str | None = None,
           size_bytes: int | None = None) -> FileOutcome:
    """Record a file that cannot be ingested (ledger status ``refused``, the reason)."""
    key = file_hash or unreadable_key(path)
    with conn.transaction():
        ledger.upsert_ingestion(
            conn, key, raw=raw, file_path=str(path),
            file_size_bytes=size_bytes or 0, status="refused", error=reason,
            flow_run_id=run_id,
        )
    return FileOutcome(str(path), key, "refused", message=reason)


def check(conn: psycopg.Connection, path: Path, *, raw: str, run_id: str | None,
          taken: dict[str, str] | None = None) -> SourceFile | FileOutcome:
    """Hash and check one file: the source to land, or the outcome when there is nothing to do
    (refused: unreadable or not a trips CSV; skipped: loaded before, or taken in this run).

    ``taken``: content hash -> path of the files this run took already; the same content
    under a second name is skipped, so it is counted once.
    """
    try:
        source = inspect_source(path)
    except SourceError as exc:
        return refuse(conn, path, str(exc), raw=raw, run_id=run_id,
                      file_hash=exc.sha256, size_bytes=exc.size_bytes)
    if taken and source.sha256 in taken:
        return FileOutcome(
            str(path), source.sha256, "skipped",
            message=f"same content as {taken[source.sha256]} (in this run)",
        )
    current = ledger.get_ingestion(conn, source.sha256, raw)
    if current and current["status"] == "loaded":
        return FileOutcome(
            str(path), source.sha256, "skipped",
            message=f"already loaded from {current['file_path']} at {current['loaded_at']}",
        )
    return source


def error_line(exc: BaseException) -> str:
    """One line for an exception: its first line, plus the root cause of a Spark (JVM) one."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    if causes and causes[-1] not in first:
        first = f"{first} (caused by {causes[-1]})"
    return first[:500]


def signal_behind(exc: BaseException) -> BaseException | None:
    """The signal exception (SIGTERM/SIGINT: a ``BaseException``, not an ``Exception``) that
    ``exc`` was raised while handling, if any.

    A signal that interrupts a py4j call leaves the gateway's stream out of step, and the next
    call in PySpark's error handling fails with an unrelated error ("'JavaObject' object is
    not callable"): that error is about the signal, not about the file Spark was reading.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if not isinstance(current, Exception):
            return current
        seen.add(id(current))
        current = current.__context__ or current.__cause__
    return None


def _reset_partial_load(conn: psycopg.Connection, file_hash: str, raw: str) -> None:
    """Forget a partial load whose landed files are gone (they are about to be re-landed)."""
    with conn.transaction():
        for table in (TRIPS_TABLE, REJECTED_TABLE):
            conn.execute(
                f"delete from {raw}.{table} where batch_id in"
                f" (select batch_id from {raw}.load_batches where file_hash = %s)",
                (file_hash,),
            )
        conn.execute(f"delete from {raw}.load_batches where file_hash = %s", (file_hash,))


def land(
    conn: psycopg.Connection, spark, source: SourceFile, *, raw: str, lake: Lake,
    run_id: str | None,
) -> LandingResult | FileOutcome:
    """Land a file unless an earlier run already landed it (its parquet is then reused).

    A file Spark fails on is refused (a FileOutcome with the reason), so the run goes on
    with the next file; interruptions (KeyboardInterrupt, Prefect's TerminationSignal) are
    not exceptions of the file and propagate.
    """
    current = ledger.get_ingestion(conn, source.sha256, raw)
    landed_dir, quarantine_dir = lake.paths(source)
    if (
        current
        and current["status"] in {"landed", "loading"}
        and landed_dir.exists()
        and quarantine_dir.exists()
        and count_rows(landed_dir) == current["rows_accepted"]
        and count_rows(quarantine_dir) == current["rows_rejected"]
    ):
        log.info("reusing landed parquet of %s", source.path)
        return LandingResult(
            source, landed_dir, quarantine_dir, current["rows_accepted"],
            current["rows_rejected"], current["rows_duplicate"] or 0,
        )
    _reset_partial_load(conn, source.sha256, raw)
    with conn.transaction():
        ledger.upsert_ingestion(
            conn, source.sha256, raw=raw, file_path=str(source.path),
            file_size_bytes=source.size_bytes, status="landing", error=None,
            flow_run_id=run_id,
        )
    try:
        result = land_file(
            spark, source, lake.landing_dir, lake.quarantine_dir, lake.max_records_per_file
        )
    except FileNotFoundError:
        return refuse(conn, source.path, "vanished before Spark could read it", raw=raw,
                      run_id=run_id, file_hash=source.sha256, size_bytes=source.size_bytes)
    except Exception as exc:  # Spark could not read this file: refuse it, the run goes on
        interrupted = signal_behind(exc)
        if interrupted is not None:  # a signal stopped Spark mid-call: not the file's fault
            raise interrupted from exc
        log.debug("landing %s failed", source.path, exc_info=True)
        return refuse(conn, source.path, f"Spark could not read it: {error_line(exc)}",
                      raw=raw, run_id=run_id, file_hash=source.sha256,
                      size_bytes=source.size_bytes)
    with conn.transaction():
        ledger.update_ingestion(
            conn, source.sha256, raw=raw, status="landed", rows_read=result.rows_read,
            rows_accepted=result.rows_accepted, rows_rejected=result.rows_rejected,
            rows_duplicate=result.rows_duplicate, landed_at=_now(conn),
        )
    return result


def load(
    conn: psycopg.Connection, landing: LandingResult, *, raw: str, batch_rows: int,
    run_id: str | None,
) -> FileOutcome:
    """COPY a landed file into raw, reconcile the counts, then mark it loaded."""
    file_hash = landing.source.sha256
    with conn.transaction():
        ledger.update_ingestion(conn, file_hash, raw=raw, status="loading", flow_run_id=run_id)
    load_landed(conn, landing, raw=raw, chunk_rows=batch_rows)
    loaded = loaded_row_count(conn, file_hash, TRIPS_TABLE, raw)
    quarantined = loaded_row_count(conn, file_hash, REJECTED_TABLE, raw)
    if (loaded, quarantined) != (landing.rows_accepted, landing.rows_rejected):
        message = (
            f"{landing.source.path}: loaded {loaded} trips / {quarantined} rejected rows but "
            f"landed {landing.rows_accepted} / {landing.rows_rejected}"
        )
        with conn.transaction():
            ledger.update_ingestion(conn, file_hash, raw=raw, status="failed", error=message)
        raise ReconciliationError(message)
    with conn.transaction():
        ledger.update_ingestion(
            conn, file_hash, raw=raw, status="loaded", rows_loaded=loaded,
            loaded_at=_now(conn), error=None,
        )
    return FileOutcome(
        str(landing.source.path), file_hash, "loaded",
        rows_read=landing.rows_read, rows_rejected=landing.rows_rejected, rows_loaded=loaded,
        rows_duplicate=landing.rows_duplicate,
    )


def _now(conn: psycopg.Connection):
    return conn.execute("select clock_timestamp()").fetchone()[0]
