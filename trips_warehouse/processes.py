"""Detached local services: the Prefect server, Superset and the Spark cluster's daemons.

Each runs in its own session (so its whole process group can be signalled, and it outlives
the command that started it) with its output in a log file; a pid file says where it is.
Our own code, not a library's: ``prefect server start --background`` keeps no log, does not
wait for the API and stops without waiting (flows/server.py says what else it lacks), gunicorn
and Spark's daemons have no per-data-dir equivalent, and the three need the same start, find
and stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path


def spawn(
    command: list[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start ``command`` in a new session, its stdout and stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            command,
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs: reaps it if it is our finished child; a zombie counts as gone."""
    with contextlib.suppress(ChildProcessError):
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid) else None


def recorded_port(pid_file: Path, port_file: Path) -> int | None:
    """The port a service recorded beside its pid, if that process is alive."""
    if read_pid(pid_file) is None:
        return None
    try:
        return int(port_file.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_groups(pids: Iterable[int], timeout_s: float) -> None:
    """SIGTERM each process group, wait up to ``timeout_s`` for all, SIGKILL the survivors."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if is_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def stop_recorded(pid_file: Path, timeout_s: float) -> bool:
    """Stop the process group recorded in ``pid_file`` and forget it; whether one ran."""
    pid = read_pid(pid_file)
    if pid is not None:
        stop_groups([pid], timeout_s)
    pid_file.unlink(missing_ok=True)
    return pid is not None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (bound, then released: free until someone takes it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
