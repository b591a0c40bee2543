"""The service's pure pieces (flows/service.py): which names are arrivals, and how the queue
batches what arrives together; the service itself: tests/integration/test_service.py."""

from __future__ import annotations

import threading
import time


def test_the_arrival_rule_by_name(tmp_path):
    from flows.service import arrived_name

    inbox = tmp_path / "inbox"
    assert arrived_name(inbox / "trips.csv", inbox) == inbox / "trips.csv"
    assert arrived_name(str(inbox / "TRIPS.CSV.GZ"), inbox) == inbox / "TRIPS.CSV.GZ"
    assert arrived_name(inbox / ".trips.csv", inbox) is None  # being written
    assert arrived_name(inbox / "trips.csv.part", inbox) is None
    assert arrived_name(inbox / "sub" / "trips.csv", inbox) is None  # subfolders not watched


def test_the_queue_batches_what_arrives_together_and_stops(tmp_path):
    from flows.service import Queue, Work

    queue = Queue(debounce_s=0.5, max_debounce_s=5.0)
    queue.add_files(["a.csv"])
    threading.Timer(0.2, queue.add_files, [["b.csv", "a.csv"]]).start()
    t0 = time.monotonic()
    assert queue.next() == Work(files=["a.csv", "b.csv"])
    assert 0.6 <= time.monotonic() - t0 < 3  # half a second after the last arrival
    # a steady stream still gets a run after max_debounce_s
    queue = Queue(debounce_s=0.5, max_debounce_s=1.5)
    stop = threading.Event()

    def stream() -> None:
        while not stop.wait(0.2):
            queue.add_files([f"{time.monotonic()}.csv"])

    threading.Thread(target=stream, daemon=True).start()
    t0 = time.monotonic()
    assert queue.next().files
    assert time.monotonic() - t0 < 3
    stop.set()
    # a stop leaves what is queued in the inbox, for the next start
    queue.add_files(["c.csv"])
    threading.Timer(0.2, queue.stop).start()
    queue.pause(30)  # returns at the stop
    assert queue.next() is None
