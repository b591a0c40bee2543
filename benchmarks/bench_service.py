"""How live the ingestion service is, on this machine (issue 14's targets; not a timed test).

    .venv/bin/python benchmarks/bench_service.py [--small-files 100] [--repeat 2]
        [--out docs/scale/service.json]

Starts a throwaway Prefect server and a fresh database (``trips_service_bench``), applies the
automations with one generic webhook to a loopback receiver, starts ``trips serve`` as a
subprocess, and measures, from the rename of a file into the inbox:

* ``rows_10k`` / ``rows_100``: until the marts have its trips (``marts.fct_trips``) and until
  the receiver got the run's Completed notification (targets 15 s / 10 s);
* ``already_loaded``: a copy of a loaded file under another name, until the notification
  (target 3 s);
* ``rss``: the service's resident memory (its Python process; its Spark JVM apart) after the
  first and the last of ``--small-files`` 100-row files dropped one after the other (flat);
* ``cold_cli_10k``: then, with the service stopped, ``trips ingest`` of a new 10k-row file in a
  new process (JVM start, dbt parse, a Prefect task per dbt node), wall time (target 30 s).

Each figure is printed with the load average at that moment, and all are saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extract_load.generate import generate_file  # noqa: E402
from trips_warehouse.config import load_settings  # noqa: E402
from trips_warehouse.db import with_database  # noqa: E402
from trips_warehouse.processes import free_port  # noqa: E402

ADMIN_URL = os.environ.get("TRIPS_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "trips_service_bench"


class Receiver:
    """A loopback webhook: (receipt time, subject, body) of every POST."""

    def __init__(self):
        self.items: list[tuple[float, str, str]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                at = time.monotonic()
                data = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                self.send_response(200)
                self.end_headers()
                with receiver.cond:
                    receiver.items.append((at, data.get("subject", ""), data.get("body", "")))
                    receiver.cond.notify_all()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def completed(self, path: Path, timeout: float = 900) -> float:
        """Receipt time of the Completed notification of the run of ``path``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, subject, body in self.items:
                    if "Completed" in subject and f"Files: {path}" in body:
                        return at
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no Completed notification for {path}")
                self.cond.wait(1)


def fct_trips(url: str) -> int:
    with psycopg.connect(url) as conn:
        try:
            return conn.execute("select count(*) from marts.fct_trips").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return found


def load() -> float:
    return round(os.getloadavg()[0], 1)


class Bench:
    def __init__(self, work: Path, url: str, receiver: Receiver, env: dict[str, str]):
        self.work, self.url, self.receiver, self.env = work, url, receiver, env
        self.inbox = work / "inbox"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.seed = 0
        self.proc: subprocess.Popen | None = None

    def csv(self, rows: int) -> Path:
        """A new file (new content) outside the inbox."""
        self.seed += 1
        path = self.work / "staging" / f"trips-{self.seed:04d}-{rows}.csv"
        path.parent.mkdir(exist_ok=True)
        generate_file(path, rows, seed=self.seed)
        return path

    def start(self) -> None:
        log = open(self.work / "serve.log", "ab")  # noqa: SIM115 (the child's for its life)
        self.proc = subprocess.Popen([sys.executable, "-m", "trips_cli", "serve"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        while "serving:" not in (self.work / "serve.log").read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise RuntimeError("trips serve exited; see serve.log")
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)

    def drop(self, staged: Path, name: str | None = None) -> tuple[Path, float]:
        final = self.inbox / (name or staged.name)
        t0 = time.monotonic()
        os.rename(staged, final)
        return final, t0

    def timed(self, rows: int) -> dict:
        """Drop a new ``rows`` file; seconds until the marts have it and until notified."""
        before = fct_trips(self.url)
        path, t0 = self.drop(self.csv(rows))
        while fct_trips(self.url) < before + rows:
            time.sleep(0.1)
        marts_s = time.monotonic() - t0
        notified_s = self.receiver.completed(path) - t0
        return {"rows": rows, "marts_s": round(marts_s, 2), "notified_s": round(notified_s, 2),
                "load_avg": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scale" / "service.json")
    args = parser.parse_args()

    from prefect.context import refresh_global_settings_context

    from flows import server
    from flows.automations import apply

    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{DATABASE}" with (force)')
        admin.execute(f'create database "{DATABASE}"')
    url = with_database(ADMIN_URL, DATABASE)
    settings = replace(load_settings(), data_dir=work, database_url=url)
    api = server.start_background(settings, port=free_port(),
                                  extra_env={"PREFECT_UI_ENABLED": "false"})
    os.environ["PREFECT_API_URL"] = api
    refresh_global_settings_context()
    receiver = Receiver()
    apply(replace(settings, notify_webhook_url=receiver.url, notify_on_progress=False))
    env = {**os.environ, "TRIPS_DATABASE_URL": url, "TRIPS_DATA_DIR": str(work),
           "TRIPS_INBOX_DIR": str(work / "inbox"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    bench = Bench(work, url, receiver, env)
    figures: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_start": load()}}
    try:
        t0 = time.monotonic()
        bench.start()
        figures["service_start_s"] = round(time.monotonic() - t0, 1)
        print(f"service ready in {figures['service_start_s']} s (load {load()})", flush=True)
        figures["first_run"] = bench.timed(100)  # the first build of the marts is a full one
        print("first run", figures["first_run"], flush=True)
        for rows, key in ((10_000, "rows_10k"), (100, "rows_100")):
            figures[key] = [bench.timed(rows) for _ in range(args.repeat)]
            print(key, figures[key], flush=True)
        already = []
        for i in range(args.repeat):
            loaded_copy = bench.work / "staging" / f"copy-{i}.csv"
            loaded_copy.write_bytes((bench.inbox / next(
                p.name for p in sorted(bench.inbox.iterdir()) if p.name.endswith("-100.csv")
            )).read_bytes())
            path, t1 = bench.drop(loaded_copy)
            already.append({"notified_s": round(receiver.completed(path) - t1, 2),
                            "load_avg": load()})
        figures["already_loaded"] = already
        print("already loaded", already, flush=True)

        rss = []
        for i in range(args.small_files):
            path, _ = bench.drop(bench.csv(100))
            receiver.completed(path)
            if i in (0, args.small_files - 1) or (i + 1) % 10 == 0:
                jvm = sum(rss_kb(c) for c in children(bench.proc.pid))
                rss.append({"file": i + 1, "service_rss_mb": round(rss_kb(bench.proc.pid) / 1024),
                            "children_rss_mb": round(jvm / 1024), "load_avg": load()})
                print("rss", rss[-1], flush=True)
        figures["rss"] = rss
        bench.stop()

        cold = []
        for _ in range(args.repeat):
            staged = bench.csv(10_000)
            t1 = time.monotonic()
            subprocess.run([sys.executable, "-m", "trips_cli", "ingest", str(staged), "--json"],
                           cwd=ROOT, env=env, check=True, capture_output=True)
            cold.append({"rows": 10_000, "wall_s": round(time.monotonic() - t1, 2),
                         "load_avg": load()})
        figures["cold_cli_10k"] = cold
        print("cold trips ingest", cold, flush=True)
    finally:
        if bench.proc is not None and bench.proc.poll() is None:
            bench.proc.kill()
        server.stop(settings)
    figures["machine"]["load_avg_end"] = load()
    figures["summary"] = {
        key: statistics.median(x["notified_s"] for x in figures[key])
        for key in ("rows_10k", "rows_100", "already_loaded")
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures["summary"]), f"saved to {args.out}", flush=True)


if __name__ == "__main__":
    main()
