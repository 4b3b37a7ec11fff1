"""Group commit for HTTP ingestion: concurrent batches are validated and committed together.

Each ``ingest_records`` call has a fixed cost (validation statements, one transaction) that dwarfs the
per-event cost, so one writer thread drains every batch waiting (up to ``max_records`` events), ingests
them in ONE call, and hands each request its own slice of the per-record results. A request still gets
its answer only after its events are committed. The queue is bounded: when it is full the API answers
503 with ``Retry-After`` instead of buffering without limit. If a combined call fails, each batch is
retried on its own, so one request can never fail another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from liveloop.api.metrics import WRITE_QUEUE
from liveloop.core.errors import LiveloopError

#: ``load(records) -> RecordsResult`` for one kind of input (events, Segment messages …).
Loader = Callable[[list[Any]], Any]


class QueueFull(LiveloopError):
    status, title, type_slug = 503, "Service unavailable", "busy"


@dataclass
class _Job:
    kind: str
    records: list[Any]
    load: Loader
    future: Future[Any] = field(default_factory=Future)


@dataclass
class Slice:
    """One request's share of a combined result (same attributes ``RecordsResult`` has)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[Any] = field(default_factory=list)


class IngestQueue:
    def __init__(self, *, max_waiting: int = 256, max_records: int = 10_000):
        self.max_records = max_records
        self._jobs: queue.Queue[_Job] = queue.Queue(maxsize=max_waiting)
        self._pending: _Job | None = None
        self._thread = threading.Thread(target=self._run, name="liveloop-ingest-writer", daemon=True)
        self._started = threading.Lock()

    def submit(self, kind: str, records: list[Any], load: Loader, timeout_s: float = 120.0) -> Any:
        """Queue ``records`` and wait until they are committed; returns this request's results."""
        with self._started:
            if not self._thread.is_alive():
                self._thread.start()
        job = _Job(kind, records, load)
        WRITE_QUEUE.inc()
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            WRITE_QUEUE.dec()
            raise QueueFull("the ingest queue is full; retry shortly", extra={"retry_after": 1}) from None
        return job.future.result(timeout_s)

    def state(self) -> dict[str, Any]:
        """Whether the writer takes writes: its thread alive (or not started yet) and room in its queue."""
        died = self._thread.ident is not None and not self._thread.is_alive()
        waiting, capacity = self._jobs.qsize(), self._jobs.maxsize
        out: dict[str, Any] = {"ok": not died and waiting < capacity, "waiting": waiting}
        out["capacity"] = capacity
        if died:
            out["reason"] = "the warehouse writer thread has stopped"
        elif waiting >= capacity:
            out["reason"] = "the ingest queue is full"
        return out

    def _take_group(self) -> list[_Job]:
        first = self._pending or self._jobs.get()
        self._pending = None
        group, total = [first], len(first.records)
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job.kind != first.kind or total + len(job.records) > self.max_records:
                self._pending = job  # starts the next group
                break
            group.append(job)
            total += len(job.records)
        return group

    def _run(self) -> None:
        while True:
            group = self._take_group()
            WRITE_QUEUE.dec(len(group))
            self._commit(group)

    @staticmethod
    def _commit(group: list[_Job]) -> None:
        if len(group) == 1:
            job = group[0]
            try:
                job.future.set_result(job.load(job.records))
            except BaseException as exc:  # handed to the waiting request, which renders it
                job.future.set_exception(exc)
            return
        combined = [r for job in group for r in job.records]
        try:
            result = group[0].load(combined)
        except Exception:
            for job in group:  # isolate the failure: each batch on its own
                IngestQueue._commit([job])
            return
        start = 0
        for job in group:
            part = Slice()
            for outcome in result.results[start : start + len(job.records)]:
                outcome.index -= start
                part.results.append(outcome)
                if outcome.status == "accepted":
                    part.accepted += 1
                elif outcome.status == "duplicate":
                    part.duplicates += 1
                else:
                    part.rejected += 1
            start += len(job.records)
            job.future.set_result(part)
