"""The audit buffer: one compact row per served list, written in batches through ``privacy.audit.write``."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import orjson

from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry


class AuditBuffer:
    """Buffers served lists; the background worker (``worker``, woken at ``batch`` rows) writes them, or
    the request itself does without a worker or past ``max_rows``."""

    def __init__(self, wh: Any, batch: int = 1_000, max_rows: int = 200_000):
        self.wh = wh
        self.batch = batch
        self.max_rows = max_rows
        self.worker: Any = None  # liveloop.recommend.upkeep.Upkeep while it runs
        self.written = 0
        self._rows: deque[AuditEntry] = deque()
        self._lock = threading.Lock()

    def add(
        self,
        user_id: str,
        context: str,
        pids: list[str],
        codes: list[str],
        mode: str,
        version: str | None,
        actor: str | None,
    ) -> None:
        """Buffer one served list."""
        details = orjson.dumps({"context": context, "version": version, "reasons": codes}).decode()
        self._rows.append(
            AuditEntry(actor or "recommend", "recommend", user_id, ",".join(pids), mode, details)
        )
        n = len(self._rows)
        if n >= self.max_rows or (n >= self.batch and self.worker is None):
            self.flush()  # without the worker (or when it falls behind): write inline
        elif n >= self.batch and self.worker is not None:
            self.worker.wake()

    def due(self) -> bool:
        """A full batch is waiting."""
        return len(self._rows) >= self.batch

    def flush(self) -> int:
        """Write the buffered rows in one columnar append; their number."""
        with self._lock:
            rows = [self._rows.popleft() for _ in range(len(self._rows))]
            if not rows:
                return 0
            audit.write(self.wh, rows)
            self.written += len(rows)
        return len(rows)

    def __len__(self) -> int:
        return len(self._rows)
