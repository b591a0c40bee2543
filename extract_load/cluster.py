"""A Spark standalone cluster on this machine: one master and N workers, loopback only.

The same cluster a real deployment runs (``org.apache.spark.deploy.master.Master`` and
``...worker.Worker`` from the Spark distribution the pyspark package ships), so that
``TRIPS_SPARK_MASTER=spark://...`` can be tried, tested and measured without one. Each daemon
is a detached process (its own session, like ``trips server``) with its log, and each worker
its own work folder, under ``home``; ``state.json`` records the pids and addresses so another
process (``trips cluster status|down``) finds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from extract_load.spark import ensure_java
from trips_warehouse.processes import free_port, is_alive, spawn, stop_groups

HOST = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class ClusterSpec:
    workers: int = 2
    cores_per_worker: int = 1
    memory_per_worker: str = "1g"  # what its executors may use (spark.executor.memory: 1g)
    daemon_memory: str = "256m"  # heap of the master and worker JVMs themselves
    master_port: int = 0  # 0: a free port
    master_webui_port: int = 0


@dataclass(frozen=True)
class Daemon:
    pid: int
    webui_url: str
    log_file: str
    work_dir: str | None = None


@dataclass(frozen=True)
class Cluster:
    master_url: str
    master: Daemon
    workers: tuple[Daemon, ...]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Cluster:
        return cls(
            master_url=data["master_url"],
            master=Daemon(**data["master"]),
            workers=tuple(Daemon(**w) for w in data["workers"]),
        )


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


def state_file(home: Path) -> Path:
    return home / "state.json"


def daemon_env(home: Path, spec: ClusterSpec) -> dict[str, str]:
    """Environment of the master and worker processes (and so of the executors they start)."""
    java_home = ensure_java(home / "java")
    return {
        **os.environ,
        "JAVA_HOME": str(java_home),
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(home / "logs"),
        "SPARK_DAEMON_MEMORY": spec.daemon_memory,
        # no REST submission server (it would take port 6066 on every master)
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        # Python tasks, if any, run in this interpreter (it must match the driver's pyspark)
        "PYSPARK_PYTHON": sys.executable,
    }


def _spawn(args: list[str], env: dict[str, str], log_file: Path) -> int:
    return spawn([str(spark_home() / "bin" / "spark-class"), *args], log_file=log_file,
                 env=env).pid


def start(home: Path, spec: ClusterSpec = ClusterSpec(), timeout_s: float = 120.0) -> Cluster:
    """Start a master and ``spec.workers`` workers; return once every worker is registered.

    On any failure (a daemon exits, the workers do not all register in time) whatever was
    started is stopped before the error is raised.
    """
    if running(home) is not None:
        raise RuntimeError(f"a cluster is already running from {home} (trips cluster down)")
    home.mkdir(parents=True, exist_ok=True)
    env = daemon_env(home, spec)
    master_port = spec.master_port or free_port(HOST)
    master_webui = spec.master_webui_port or free_port(HOST)
    master_url = f"spark://{HOST}:{master_port}"
    master_log = home / "logs" / "master.out"
    master = Daemon(
        _spawn([MASTER_CLASS, "--host", HOST, "--port", str(master_port),
                "--webui-port", str(master_webui)], env, master_log),
        f"http://{HOST}:{master_webui}",
        str(master_log),
    )
    cluster = Cluster(master_url, master, ())
    _write_state(home, cluster)
    try:
        _wait(lambda: master_state(cluster) is not None, master, timeout_s, "master")
        workers = []
        for n in range(1, spec.workers + 1):
            work_dir = home / "work" / f"worker-{n}"
            work_dir.mkdir(parents=True, exist_ok=True)
            webui = free_port(HOST)
            log_file = home / "logs" / f"worker-{n}.out"
            pid = _spawn(
                [WORKER_CLASS, "--host", HOST, "--cores", str(spec.cores_per_worker),
                 "--memory", spec.memory_per_worker, "--webui-port", str(webui),
                 "--work-dir", str(work_dir), master_url],
                {**env, "SPARK_WORKER_DIR": str(work_dir)},
                log_file,
            )
            workers.append(Daemon(pid, f"http://{HOST}:{webui}", str(log_file), str(work_dir)))
            cluster = Cluster(master_url, master, tuple(workers))
            _write_state(home, cluster)

        def all_registered() -> bool:
            state = master_state(cluster) or {}
            return state.get("aliveworkers") == spec.workers

        _wait(all_registered, master, timeout_s, f"{spec.workers} workers to register")
    except BaseException:
        stop(home)
        raise
    return cluster


def _wait(condition, master: Daemon, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if not is_alive(master.pid):
            raise RuntimeError(f"the Spark master exited; see {master.log_file}")
        time.sleep(0.3)
    raise TimeoutError(f"waited {timeout_s:.0f}s for {what}; see the logs in "
                       f"{Path(master.log_file).parent}")


def _write_state(home: Path, cluster: Cluster) -> None:
    state_file(home).write_text(json.dumps(cluster.to_json(), indent=2))


def _read_state(home: Path) -> Cluster | None:
    try:
        return Cluster.from_json(json.loads(state_file(home).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(home: Path) -> Cluster | None:
    """The cluster started from ``home`` if its master process is alive."""
    cluster = _read_state(home)
    return cluster if cluster is not None and is_alive(cluster.master.pid) else None


def _get_json(url: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/json/", timeout=3.0, follow_redirects=True)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def master_state(cluster: Cluster) -> dict | None:
    """The master's status JSON (workers, applications), None if it does not answer."""
    return _get_json(cluster.master.webui_url)


def worker_state(worker: Daemon) -> dict | None:
    """A worker's status JSON (its running and finished executors)."""
    return _get_json(worker.webui_url)


def executors_by_worker(cluster: Cluster, app_id: str) -> dict[str, list[int]]:
    """Executor ids that application ``app_id`` ran on each worker (by worker web UI URL)."""
    found = {}
    for worker in cluster.workers:
        state = worker_state(worker) or {}
        executors = [*state.get("executors", []), *state.get("finishedexecutors", [])]
        found[worker.webui_url] = sorted(
            e["id"] for e in executors if e.get("appid") == app_id
        )
    return found


def stop(home: Path, timeout_s: float = 30.0) -> bool:
    """Stop the workers, then the master (SIGTERM to each process group, SIGKILL after
    ``timeout_s``); return whether anything was running. Executors end with their worker."""
    cluster = _read_state(home)
    if cluster is None:
        return False
    daemons = [*cluster.workers, cluster.master]
    was_running = any(is_alive(d.pid) for d in daemons)
    stop_groups([d.pid for d in daemons], timeout_s)
    state_file(home).unlink(missing_ok=True)
    return was_running


@contextlib.contextmanager
def local_cluster(home: Path, spec: ClusterSpec = ClusterSpec()) -> Iterator[Cluster]:
    """A cluster for the duration of the block; stopped on the way out, errors included."""
    cluster = start(home, spec)
    try:
        yield cluster
    finally:
        stop(home)

