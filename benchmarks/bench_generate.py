"""Throughput of ``trips generate``: rows/s for plain CSV (and optionally gzip), one core.

    .venv/bin/python benchmarks/bench_generate.py --rows 2000000
    .venv/bin/python benchmarks/bench_generate.py --rows 2000000 --gzip --out /tmp/trips.csv.gz

Writes to /dev/null by default so the disk is not what is measured; pass --out to include it.
Reports the best of --repeat runs plus a per-stage split (draw / format / write) of one run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from extract_load.generate import DEFAULT_CHUNK_SIZE, generate_file
from extract_load.generate.sample import chunk_rng, generate_chunk
from extract_load.generate.write import format_chunk


def _stages(rows: int, chunk_size: int) -> dict[str, float]:
    spent = {"draw": 0.0, "format": 0.0, "write": 0.0}
    with open(os.devnull, "wb") as sink:
        for index, lo in enumerate(range(0, rows, chunk_size)):
            n = min(chunk_size, rows - lo)
            t0 = time.perf_counter()
            table = generate_chunk(chunk_rng(0, index), n)
            t1 = time.perf_counter()
            payload = format_chunk(table)
            t2 = time.perf_counter()
            sink.write(payload)
            spent["draw"] += t1 - t0
            spent["format"] += t2 - t1
            spent["write"] += time.perf_counter() - t2
    return spent


@click.command()
@click.option("--rows", type=int, default=2_000_000, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path(os.devnull))
@click.option("--gzip/--no-gzip", "gzip_output", default=False, show_default=True)
@click.option("--bad-rows", "bad_fraction", type=float, default=0.0, show_default=True)
@click.option("--repeat", type=int, default=3, show_default=True)
@click.option("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, show_default=True)
def main(
    rows: int, out: Path, gzip_output: bool, bad_fraction: float, repeat: int, chunk_size: int
) -> None:
    best = best_cpu = float("inf")
    size = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = generate_file(
            out,
            rows,
            seed=0,
            gzip_output=gzip_output,
            bad_fraction=bad_fraction,
            chunk_size=chunk_size,
        )
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        size = result.bytes_written
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    kind = "gzip" if gzip_output else "plain"
    click.echo(
        f"{rows:,} rows {kind} -> {out}: best {best:.2f}s = {rows / best:,.0f} rows/s, "
        f"{size / best / 1e6:,.0f} MB/s uncompressed (best of {repeat}; 1-min load {load:.2f})"
    )
    # CPU time is the fairer single-core figure on a shared machine (wall time includes waits
    # for a core; numpy/pyarrow run these kernels single-threaded).
    click.echo(f"cpu: best {best_cpu:.2f}s = {rows / best_cpu:,.0f} rows/s per core")
    stages = _stages(rows, chunk_size)
    total = sum(stages.values())
    click.echo(
        "stages (one run, /dev/null): "
        + ", ".join(f"{k} {v:.2f}s ({v / total:.0%})" for k, v in stages.items())
    )


if __name__ == "__main__":
    main()
