"""Latency from a flow-run state change to the webhook receiving its notification.

    .venv/bin/python benchmarks/bench_notify_latency.py [--runs 20] [--api-url URL]

Starts a throwaway local Prefect server (flows/server.py, tmp data dir) unless ``--api-url`` is
given, a loopback HTTP receiver, applies the automations with only the generic webhook, then runs
a trivial ``trips-ingest`` flow N times. For every Running and Completed notification, latency =
receipt time - the state's timestamp as recorded by the server. Prints p50/p95/max (target:
p95 < 1 s). Same machine, same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

RUN_LINK = re.compile(r"/runs/flow-run/([0-9a-f-]{36})")


def start_receiver() -> tuple[str, list[tuple[float, dict]], threading.Condition]:
    received: list[tuple[float, dict]] = []
    cond = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            at = time.time()
            data = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            self.send_response(200)
            self.end_headers()
            with cond:
                received.append((at, data))
                cond.notify_all()

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/hook", received, cond


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--api-url", default=None, help="Use this server instead of a new one.")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.context import refresh_global_settings_context

    from flows import server
    from trips_warehouse.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    settings = replace(load_settings(), data_dir=tmp)
    own_server = args.api_url is None
    if own_server:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        t0 = time.monotonic()
        api_url = server.start_background(settings, port=port, timeout_s=240)
        print(f"server started in {time.monotonic() - t0:.1f}s at {api_url}")
    else:
        api_url = args.api_url
    os.environ["PREFECT_API_URL"] = api_url
    refresh_global_settings_context()

    from prefect import flow, get_client

    from flows.automations import apply

    url, received, cond = start_receiver()
    try:
        print(apply(replace(settings, notify_webhook_url=url, notify_slack_webhook_url=None,
                            notify_smtp_host=None, notify_on_progress=False)).lines())
        time.sleep(2)

        @flow(name="trips-ingest")
        def trivial(paths: list[str]) -> str:
            return "ok"

        run_ids = []
        for i in range(args.runs):
            state = trivial([f"bench-{i}.csv"], return_state=True)
            run_ids.append(state.state_details.flow_run_id)
        deadline = time.monotonic() + 60
        with cond:
            while (len(received) < 2 * args.runs) and time.monotonic() < deadline:
                cond.wait(deadline - time.monotonic())

        async def state_times() -> dict[tuple[UUID, str], float]:
            out = {}
            async with get_client() as client:
                for run_id in run_ids:
                    for state in await client.read_flow_run_states(run_id):
                        out[(run_id, state.name)] = state.timestamp.timestamp()
            return out

        times = asyncio.run(state_times())
        latencies = []
        for at, data in received:
            match = RUN_LINK.search(data.get("body", ""))
            state_name = data.get("subject", "").split(":")[0].rsplit(" ", 1)[-1]
            key = (UUID(match.group(1)), state_name) if match else None
            if key in times:
                latencies.append(at - times[key])
        if not latencies:
            raise SystemExit("no notification received")
        print(
            f"{len(latencies)} notifications from {args.runs} runs "
            f"(Running + Completed) at {datetime.now():%Y-%m-%d %H:%M}"
        )
        print(
            f"latency state change -> webhook: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms (target p95 < 1000 ms)"
        )
    finally:
        if own_server:
            server.stop(settings)


if __name__ == "__main__":
    main()
