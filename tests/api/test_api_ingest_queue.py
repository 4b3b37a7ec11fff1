"""The group-commit queue: concurrent batches share one load, each gets its own slice, failures stay apart."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from liveloop.api.ingest_queue import IngestQueue, QueueFull


@dataclass
class Outcome:
    index: int
    status: str
    id: str | None = None


@dataclass
class Result:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[Outcome] = field(default_factory=list)


class Loader:
    """A stand-in for ``ingest_records`` that de-duplicates by id and records how it was called."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls: list[int] = []
        self.seen: set[str] = set()
        self.gate = gate
        self.entered = threading.Event()  # the writer is inside a load (then waits on the gate)

    def __call__(self, records: list[str]) -> Result:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if "boom" in records:
            raise RuntimeError("a poisoned batch")
        self.calls.append(len(records))
        out = Result()
        for i, rid in enumerate(records):
            status = (
                "duplicate" if rid in self.seen else ("rejected" if rid.startswith("bad") else "accepted")
            )
            self.seen.add(rid)
            out.results.append(Outcome(i, status, rid))
        out.accepted = sum(o.status == "accepted" for o in out.results)
        out.duplicates = sum(o.status == "duplicate" for o in out.results)
        out.rejected = sum(o.status == "rejected" for o in out.results)
        return out


def _wait_until(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _blocked_writer(q: IngestQueue, loader: Loader, pool: ThreadPoolExecutor, first: list[str]):
    """Submit ``first`` and wait until the writer has taken it (it then waits on the loader's gate)."""
    future = pool.submit(q.submit, "events", first, loader)
    _wait_until(loader.entered.is_set)  # not qsize() == 0: that also holds before ``first`` is queued
    return future


def test_waiting_batches_are_loaded_together_and_answered_separately():
    gate = threading.Event()
    loader, q = Loader(gate), IngestQueue()
    batches = [["a0", "a1", "a2"], ["b0", "bad1"], ["a0", "c0"], ["d0"]]
    with ThreadPoolExecutor(4) as pool:
        futures = [_blocked_writer(q, loader, pool, batches[0])]
        futures += [pool.submit(q.submit, "events", b, loader) for b in batches[1:]]
        _wait_until(lambda: q._jobs.qsize() == 3)
        gate.set()
        results = [f.result(30) for f in futures]
    assert loader.calls == [3, 5]  # the three batches that waited shared one call
    for batch, result in zip(batches, results, strict=True):
        assert [o.index for o in result.results] == list(range(len(batch)))
        assert [o.id for o in result.results] == batch
    assert (results[1].accepted, results[1].rejected) == (1, 1)
    assert (results[2].accepted, results[2].duplicates) == (1, 1)  # "a0" sent twice is loaded once


def test_a_failing_batch_does_not_fail_the_others():
    gate = threading.Event()
    loader, q = Loader(gate), IngestQueue()
    with ThreadPoolExecutor(4) as pool:
        futures = [_blocked_writer(q, loader, pool, ["x0"])]
        futures += [pool.submit(q.submit, "events", b, loader) for b in (["x1"], ["boom"], ["x2"])]
        _wait_until(lambda: q._jobs.qsize() == 3)
        gate.set()
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(30).accepted)
            except RuntimeError:
                outcomes.append("failed")
    assert outcomes == [1, 1, "failed", 1]


def test_a_full_queue_answers_busy_instead_of_growing():
    gate = threading.Event()
    loader, q = Loader(gate), IngestQueue(max_waiting=1)
    with ThreadPoolExecutor(4) as pool:
        first = _blocked_writer(q, loader, pool, ["y0"])
        second = pool.submit(q.submit, "events", ["y1"], loader)
        _wait_until(lambda: q._jobs.qsize() == 1)
        with pytest.raises(QueueFull):
            q.submit("events", ["y2"], loader)
        gate.set()
        assert first.result(30).accepted == 1 and second.result(30).accepted == 1
