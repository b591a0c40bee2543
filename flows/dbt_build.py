"""Run dbt in-process against the warehouse, and fail loudly when anything fails.

``run_dbt`` is the one entry point: it puts the connection into the environment
``profiles/profiles.yml`` reads, then invokes dbt in this process with the project and profiles
folders from :mod:`trips_warehouse.config`.

* Inside a Prefect flow (or task) run it uses ``prefect_dbt.PrefectDbtRunner``, so every model,
  test and unit test shows up as its own Prefect task, unless the caller asks for none
  (``per_node_tasks=False``: the per-file builds of an ingestion, where the tasks cost more
  than the build; docs/pipeline.md has the figures).
* Outside Prefect it uses ``dbt.cli.main.dbtRunner`` directly.
* Where a long-running process keeps a :class:`ParsedProject` (``trips serve``, see
  :func:`building_with`), builds use ``dbtRunner`` on that manifest: no parse per build.

dbt's console log is a log, so it never goes to stdout (which carries a command's result, e.g.
``trips ingest --json``): inside a run it goes to the run logger (the Prefect UI, and stderr
through the logging handlers), outside to stderr. It has colours only when stderr is a terminal
and NO_COLOR is unset; never inside a run (the UI shows escape codes as text) nor in dbt.log.

Either way a failed model or test raises :class:`DbtBuildFailed` naming the failed nodes. The
runner's own ``raise_on_failure`` is turned off only so that *we* can build one typed result and
one exception for both paths; the result is always inspected (unlike Prefect's dbt example,
which passes ``raise_on_failure=False`` and never looks at it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from prefect import flow

from flows.events import CHECKS_FLOW_NAME
from trips_warehouse.config import (
    DBT_PROFILES_DIR,
    DBT_PROJECT_DIR,
    MARTS_SCHEMA,
    Settings,
    color_wanted,
    load_settings,
)
from trips_warehouse.db import dbt_env, resolve_database_url, vacuum_analyze_schema
from trips_warehouse.lock import pipeline_lock

log = logging.getLogger(__name__)

# dbt keeps global state (flags, adapters, event manager): one invocation per process at a time.
_DBT_LOCK = threading.RLock()
# the project parse the builds of this process use (building_with); None: dbt parses per build
_parsed: ParsedProject | None = None
# commands that run on a manifest handed to dbtRunner
_MANIFEST_COMMANDS = {"build", "run", "test"}
# the dbt project's own folders that hold no input of the parse
_NOT_PARSED = {"target", "logs", "dbt_packages"}

_FAILED = {"error", "fail", "runtime error"}
_TEST_TYPES = {"test", "unit_test"}


@dataclass
class DbtRunResult:
    """What one dbt invocation did. ``failures`` holds the names of failed nodes."""

    command: str
    success: bool
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str | None = None
    # the nodes that took longest, slowest first: (name, seconds)
    slowest: list[tuple[str, float]] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"dbt {self.command}: {self.models_built} models built, {self.tests_passed} tests "
            f"passed, {self.tests_failed} failed, {self.tests_warned} warned, {self.skipped} "
            f"skipped in {self.elapsed_s:.1f}s"
        )
        if self.failures:
            text += "; failed: " + ", ".join(self.failures)
        if self.error:
            text += f"; error: {self.error}"
        return text


class DbtBuildFailed(RuntimeError):
    """A dbt invocation failed: a model or test failed, or dbt itself errored."""

    def __init__(self, result: DbtRunResult):
        self.result = result
        details = [
            f"  {name}: {result.messages[name]}" if result.messages.get(name) else f"  {name}"
            for name in result.failures
        ]
        super().__init__("\n".join([result.summary(), *details]))


def _in_prefect_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _command_name(args: list[str]) -> str:
    from dbt.cli.main import cli

    words = [a for a in args if not a.startswith("-")]
    if words and words[0] in cli.commands:
        command = cli.commands[words[0]]
        sub = getattr(command, "commands", None)
        if sub and len(words) > 1 and words[1] in sub:
            return f"{words[0]} {words[1]}"
        return words[0]
    return " ".join(words[:1])


def _accepted(command: str, wanted: dict[str, str]) -> dict[str, str]:
    """The options of ``wanted`` that the dbt command accepts (all when it is unknown)."""
    from dbt.cli.main import cli

    words = command.split()
    click_command = cli.commands.get(words[0]) if words else None
    if click_command is not None and len(words) > 1:
        click_command = click_command.commands.get(words[1])
    if click_command is None:
        return wanted
    params = {p.name for p in click_command.params}
    return {k: v for k, v in wanted.items() if k in params}


def _location_kwargs(command: str, target_path: Path | None) -> dict[str, str]:
    """--project-dir / --profiles-dir / --target-path, only where the command accepts them."""
    wanted = {"project_dir": str(DBT_PROJECT_DIR), "profiles_dir": str(DBT_PROFILES_DIR)}
    if target_path is not None:
        wanted["target_path"] = str(target_path)
    return _accepted(command, wanted)


def _color_flags(command: str, colors: bool) -> list[str]:
    """``--no-use-colors`` unless ``colors``; ``--no-use-colors-file`` always (dbt.log is a
    file: dbt colours it by default)."""
    wanted = {"use_colors_file": "--no-use-colors-file"}
    if not colors:
        wanted["use_colors"] = "--no-use-colors"
    return list(_accepted(command, wanted).values())


def _var_args(settings: Settings, args: list[str], dbt_vars: dict[str, Any] | None) -> list[str]:
    """One ``--vars`` (JSON, which is YAML) with the raw schema when it is not ``raw``."""
    merged = dict(dbt_vars or {})
    if settings.raw_schema != "raw":
        merged.setdefault("raw_schema", settings.raw_schema)
    if not merged or "--vars" in args:
        return []
    return ["--vars", json.dumps(merged, default=str)]


def _summarise(command: str, res: Any, elapsed_s: float) -> DbtRunResult:
    result = DbtRunResult(command=command, success=bool(res.success), elapsed_s=elapsed_s)
    if res.exception is not None:
        result.error = f"{type(res.exception).__name__}: {res.exception}"
    timings = []
    for node_result in getattr(res.result, "results", None) or []:
        node = node_result.node
        timings.append((node.name, float(node_result.execution_time or 0.0)))
        kind = str(node.resource_type)
        status = str(node_result.status)
        if status in _FAILED:
            result.failures.append(node.name)
            result.messages[node.name] = str(node_result.message or "").strip()
        if status == "skipped":
            result.skipped += 1
        if kind == "model" and status == "success":
            result.models_built += 1
        elif kind in _TEST_TYPES:
            if status == "pass":
                result.tests_passed += 1
            elif status in _FAILED:
                result.tests_failed += 1
            elif status == "warn":
                result.tests_warned += 1
    if result.failures:
        result.success = False
    result.slowest = sorted(timings, key=lambda t: t[1], reverse=True)[:5]
    return result


def _invoke_plain(
    args: list[str], kwargs: dict[str, str], *, callbacks: list | None = None,
    colors: bool | None = None, manifest: Any = None,
) -> Any:
    """dbtRunner with its console log on stderr; colours (default) only on a terminal and
    without NO_COLOR; on ``manifest`` when given (no parse)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

    flags = [f"--{name.replace('_', '-')}={value}" for name, value in kwargs.items()]
    colors = color_wanted(sys.stderr) if colors is None else colors
    flags += _color_flags(_command_name(args), colors)
    # dbt writes its console log to sys.stdout; its capture stream (what dbt's own tests use)
    # replaces that stream for the invocation
    capture_stdout_logs(sys.stderr)
    try:
        return dbtRunner(manifest=manifest, callbacks=callbacks or []).invoke(
            [*args, *flags])
    finally:
        stop_capture_stdout_logs()


_EVENT_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _to_logger(logger) -> Any:
    """A dbt callback logging dbt's INFO and higher events to ``logger``, as the Prefect runner
    does for the build's."""

    def forward(event) -> None:
        level = _EVENT_LEVELS.get(str(event.info.level))
        if level is not None:
            logger.log(level, event.info.msg)

    return forward


class ParsedProject:
    """One parse of the dbt project, reused by the builds of a long-running process.

    dbt parses the project on every invocation (through PrefectDbtRunner twice: its ``parse``
    for the task graph, then dbt's own inside ``build``), seconds per build even when partial.
    ``dbtRunner(manifest=...)`` skips it. The manifest is parsed again when a file dbt reads
    changes (path, size and mtime of every file of the project, and profiles.yml), so an edited
    model is built as edited. Parse-time vars (``raw_schema``) come from the settings, which
    stay the same for the life of the process; run-time vars (the checks scope) are per build.
    """

    def __init__(self, settings: Settings, database_url: str):
        self.settings = settings
        self.database_url = database_url
        self.parses = 0
        self._manifest: Any = None
        self._fingerprint: tuple | None = None

    def manifest(self) -> Any:
        """The manifest, parsed now if the project changed since the last parse."""
        with _DBT_LOCK:
            fingerprint = _project_fingerprint()
            if self._manifest is None or fingerprint != self._fingerprint:
                os.environ.update(dbt_env(self.database_url, self.settings))
                args = ["parse", *_var_args(self.settings, ["parse"], None)]
                started = time.monotonic()
                res = _invoke_plain(args, _location_kwargs("parse", None))
                if not res.success:
                    raise DbtBuildFailed(_summarise("parse", res, time.monotonic() - started))
                self._manifest, self._fingerprint = res.result, fingerprint
                self.parses += 1
                log.info("dbt project parsed in %.1fs", time.monotonic() - started)
            return self._manifest


def _project_fingerprint() -> tuple:
    """(path, size, mtime) of every file a parse of the project reads."""
    found = []
    for root, dirs, files in os.walk(DBT_PROJECT_DIR):
        if Path(root) == DBT_PROJECT_DIR:
            dirs[:] = [d for d in dirs if d not in _NOT_PARSED]
        for name in files:
            stat = os.stat(os.path.join(root, name))
            found.append((os.path.join(root, name), stat.st_size, stat.st_mtime_ns))
    stat = os.stat(DBT_PROFILES_DIR / "profiles.yml")
    found.append(("profiles.yml", stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


@contextmanager
def building_with(project: ParsedProject) -> Iterator[ParsedProject]:
    """While in the block, the builds of this process run on ``project``'s manifest."""
    global _parsed
    previous, _parsed = _parsed, project
    try:
        yield project
    finally:
        _parsed = previous


def _invoke_prefect(args: list[str], target_path: Path | None) -> Any:
    """Per-node Prefect tasks. The manifest comes from a fresh in-process parse."""
    from prefect import get_run_logger
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    # the parse logs to the run (like the build below), not to the console
    parse_kwargs = {**_location_kwargs("parse", target_path), "log_level": "none"}
    parsed = _invoke_plain(["parse"], parse_kwargs, callbacks=[_to_logger(get_run_logger())],
                           colors=False)
    if not parsed.success:
        return parsed
    settings_kwargs: dict[str, Any] = {
        "project_dir": DBT_PROJECT_DIR,
        "profiles_dir": DBT_PROFILES_DIR,
    }
    if target_path is not None:
        settings_kwargs["target_path"] = target_path
    runner = PrefectDbtRunner(
        manifest=parsed.result,
        settings=PrefectDbtSettings(**settings_kwargs),
        # We raise DbtBuildFailed ourselves from the inspected result, below.
        raise_on_failure=False,
    )
    try:
        # its events go to the run's loggers: no colour codes in them (nor in the UI)
        return runner.invoke([*args, *_color_flags(_command_name(args), colors=False)])
    except ValueError as exc:
        # PrefectDbtRunner raises ValueError when dbt itself errored (res.exception).
        return _Errored(exc)


def _invoke_in_run(args: list[str], kwargs: dict[str, str], manifest: Any = None) -> Any:
    """dbtRunner in a flow run, no task per node: its log goes to the run (the UI), as the
    Prefect runner's does, not to the console."""
    from prefect import get_run_logger

    return _invoke_plain(args, {**kwargs, "log_level": "none"},
                         callbacks=[_to_logger(get_run_logger())], colors=False,
                         manifest=manifest)


@dataclass
class _Errored:
    exception: BaseException
    success: bool = False
    result: Any = None


def run_dbt(
    args: list[str],
    *,
    settings: Settings,
    database_url: str,
    target_path: Path | None = None,
    raise_on_failure: bool = True,
    dbt_vars: dict[str, Any] | None = None,
    per_node_tasks: bool = True,
) -> DbtRunResult:
    """Run one dbt command (``["build", "--select", "fct_trips"]``) in this process.

    Raises :class:`DbtBuildFailed` when the command fails (unless ``raise_on_failure=False``,
    which only the caller that inspects the result should use). ``target_path`` defaults to
    ``dbt_project/target``; give each concurrent caller its own. ``dbt_vars`` become
    ``--vars`` (with ``raw_schema`` when the settings name another raw schema).
    """
    command = _command_name(args)
    full_args = [*args, *_var_args(settings, args, dbt_vars)]
    kwargs = _location_kwargs(command, target_path)
    with _DBT_LOCK:
        # in-process dbt reads profiles.yml's env_var()s from this process's environment
        os.environ.update(dbt_env(database_url, settings))
        started = time.monotonic()
        in_run = _in_prefect_run()
        manifest = None
        if _parsed is not None and target_path is None and command in _MANIFEST_COMMANDS:
            manifest = _parsed.manifest()
        if per_node_tasks and in_run and manifest is None:
            res = _invoke_prefect(full_args, target_path)
        elif in_run:
            res = _invoke_in_run(full_args, kwargs, manifest)
        else:
            res = _invoke_plain(full_args, kwargs, manifest=manifest)
        result = _summarise(command, res, time.monotonic() - started)
    log.info(result.summary())
    if not result.success and raise_on_failure:
        raise DbtBuildFailed(result)
    return result


def dbt_build(
    settings: Settings,
    database_url: str,
    select: list[str] | str | None = None,
    *,
    exclude: list[str] | str | None = None,
    selector: str | None = None,
    full_refresh: bool = False,
    target_path: Path | None = None,
    dbt_vars: dict[str, Any] | None = None,
    per_node_tasks: bool = True,
) -> DbtRunResult:
    """``dbt build`` (models, data tests and unit tests in DAG order); raises on any failure.

    ``selector`` names one of dbt_project/selectors.yml (dbt then ignores select/exclude).
    """
    args = ["build"]
    if select:
        args += ["--select", *([select] if isinstance(select, str) else select)]
    if exclude:
        args += ["--exclude", *([exclude] if isinstance(exclude, str) else exclude)]
    if selector:
        args += ["--selector", selector]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(
        args,
        settings=settings,
        database_url=database_url,
        target_path=target_path,
        dbt_vars=dbt_vars,
        per_node_tasks=per_node_tasks,
    )


def dbt_docs_generate(
    settings: Settings,
    database_url: str,
    *,
    target_path: Path | None = None,
) -> DbtRunResult:
    """``dbt docs generate``: writes index.html, manifest.json and catalog.json to the target."""
    return run_dbt(
        ["docs", "generate"], settings=settings, database_url=database_url, target_path=target_path
    )


@flow(name=CHECKS_FLOW_NAME, log_prints=True)
def dbt_build_flow(select: list[str] | None = None, full_refresh: bool = False) -> dict:
    """Build the warehouse and run every data test on every row, ``nightly`` ones included.

    The nightly deployment (prefect.yaml): the ingest flow's own builds test only the rows
    since their last passing checks (dbt_project/macros/checks_scope.sql), so this is what
    catches a defect in older rows. It waits for the pipeline lock, so it never runs beside
    an ingestion, and fails (automation ``checks-failed``) on any failing model or test;
    when it passes, dbt records the watermark (var ``checks``: a pipeline run).
    """
    settings = load_settings()
    url = resolve_database_url(settings)
    with psycopg.connect(url, autocommit=True) as conn, pipeline_lock(conn):
        result = dbt_build(settings, url, select=select, full_refresh=full_refresh,
                           dbt_vars={"checks": "all"})
        vacuum_analyze_schema(url, MARTS_SCHEMA)
    print(result.summary())
    return {
        "models_built": result.models_built,
        "tests_passed": result.tests_passed,
        "tests_failed": result.tests_failed,
        "tests_warned": result.tests_warned,
        "elapsed_s": result.elapsed_s,
    }
