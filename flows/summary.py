"""What an ingestion run did, computed from what its stages returned.

One pure function, :func:`summarise`, over plain data; its result has five readers: the flow
run's final state (message and data), the ``raw.ingestion_runs`` row (:meth:`ledger_counts`),
``trips ingest``'s output and its ``--json`` document (:meth:`counts`), and the run's artifact
in the Prefect UI (:func:`markdown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from extract_load.ingest_file import FileOutcome

# the file and row counts, in the order they are reported
FILE_STATUSES = ("loaded", "skipped", "refused")
ROW_COUNTS = ("rows_read", "rows_rejected", "rows_loaded", "rows_duplicate")


@dataclass(frozen=True)
class BuildCounts:
    """What the dbt build of a run did; ``checks``: the rows its tests read (new | all)."""

    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    checks: str = ""
    # why there was no build ("" when there was one)
    skipped: str = ""
    # the slowest dbt nodes: (name, seconds)
    slowest: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class IngestSummary:
    run_id: str
    outcomes: tuple[FileOutcome, ...] = ()
    build: BuildCounts = BuildCounts()
    duration_s: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def _files(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def _rows(self, name: str) -> int:
        return sum(getattr(o, name) for o in self.outcomes)

    @property
    def files(self) -> int:
        return len(self.outcomes)

    @property
    def files_loaded(self) -> int:
        return self._files("loaded")

    @property
    def files_skipped(self) -> int:
        return self._files("skipped")

    @property
    def files_refused(self) -> int:
        return self._files("refused")

    @property
    def rows_read(self) -> int:
        return self._rows("rows_read")

    @property
    def rows_rejected(self) -> int:
        return self._rows("rows_rejected")

    @property
    def rows_loaded(self) -> int:
        return self._rows("rows_loaded")

    @property
    def rows_duplicate(self) -> int:
        return self._rows("rows_duplicate")

    @property
    def models_built(self) -> int:
        return self.build.models_built

    @property
    def tests_passed(self) -> int:
        return self.build.tests_passed

    @property
    def tests_failed(self) -> int:
        return self.build.tests_failed

    @property
    def checks(self) -> str:
        return self.build.checks

    @property
    def refused(self) -> list[str]:
        return [f"{o.path}: {o.message}" for o in self.outcomes if o.status == "refused"]

    def message(self) -> str:
        return (
            f"{self.files} file(s): {self.files_loaded} loaded, {self.files_skipped} skipped, "
            f"{self.files_refused} refused; rows read {self.rows_read}, rejected "
            f"{self.rows_rejected}, loaded {self.rows_loaded}"
            f"{f' ({self.rows_duplicate} duplicate rows kept)' if self.rows_duplicate else ''}"
            f"; {self._build_message()}; {self.duration_s:.1f}s"
        )

    def _build_message(self) -> str:
        if self.build.skipped:
            return f"dbt build skipped: {self.build.skipped}"
        return (
            f"dbt models built {self.models_built}, tests {self.tests_passed} passed / "
            f"{self.tests_failed} failed{f' ({self.checks} rows)' if self.checks else ''}"
        )

    def counts(self) -> dict:
        """The run's figures as plain data (``trips ingest --json``)."""
        return {
            "run_id": self.run_id,
            "files": self.files,
            **{f"files_{status}": self._files(status) for status in FILE_STATUSES},
            **{name: self._rows(name) for name in ROW_COUNTS},
            "models_built": self.models_built,
            "tests_passed": self.tests_passed,
            "tests_failed": self.tests_failed,
            "checks": self.checks,
            "build_skipped": self.build.skipped,
            "duration_s": self.duration_s,
            "stage_seconds": dict(self.stage_seconds),
        }

    def ledger_counts(self) -> dict:
        """The run's figures as ``raw.ingestion_runs`` columns."""
        counts = self.counts()
        counts["files_total"] = counts.pop("files")
        for key in ("run_id", "stage_seconds", "checks", "build_skipped"):
            counts.pop(key)
        return counts


def summarise(
    run_id: str,
    outcomes: list[FileOutcome],
    build: BuildCounts | None = None,
    *,
    stage_seconds: dict[str, float] | None = None,
    duration_s: float = 0.0,
) -> IngestSummary:
    """The summary of a run from its files' outcomes, its dbt build (if any) and timings."""
    return IngestSummary(
        run_id=run_id,
        outcomes=tuple(outcomes),
        build=build or BuildCounts(),
        duration_s=duration_s,
        stage_seconds=dict(stage_seconds or {}),
    )


def markdown(summary: IngestSummary, *, quarantine_dir: str, raw_schema: str = "raw",
             status: str = "completed", error: str | None = None) -> str:
    """The run as a Markdown artifact: what a user looks for in the UI (the files and their
    rows, the slowest stages and dbt nodes, where the rejected rows are)."""
    lines = [
        f"# Ingestion {status}",
        "",
        summary.message(),
        "",
    ]
    if error:
        lines += ["**Error:** " + error.splitlines()[0], ""]
    if summary.outcomes:
        lines += [
            "| file | status | rows read | rejected | loaded | note |",
            "|---|---|---:|---:|---:|---|",
            *(
                f"| `{_cell(o.path)}` | {o.status} | {o.rows_read:,} | {o.rows_rejected:,} | "
                f"{o.rows_loaded:,} | {_cell(o.message)} |"
                for o in summary.outcomes
            ),
            "",
        ]
    else:
        lines += ["No files.", ""]
    stages = sorted(summary.stage_seconds.items(), key=lambda kv: kv[1], reverse=True)
    if stages:
        lines += ["## Slowest stages", "", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.1f} |" for name, seconds in stages]
        lines.append("")
    if summary.build.slowest:
        lines += ["## Slowest dbt nodes", "", "| node | seconds |", "|---|---:|"]
        lines += [f"| {name} | {seconds:.1f} |" for name, seconds in summary.build.slowest]
        lines.append("")
    rejected = [o for o in summary.outcomes if o.rows_rejected]
    if rejected:
        lines += ["## Quarantine", ""]
        lines += [
            f"- `{o.path}`: {o.rows_rejected:,} rows in `{quarantine_dir}/source_hash="
            f"{o.file_hash}`; in the warehouse: `select * from {raw_schema}.trips_rejected"
            f" where source_file_hash = '{o.file_hash}'`"
            for o in rejected
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe in one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
