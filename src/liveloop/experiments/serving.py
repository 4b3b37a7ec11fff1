"""Arms at serving time: the running experiments of a target, re-read every few seconds, and their
first exposures buffered and written in batches (a bounded buffer with a drop counter)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from liveloop.core.clock import utcnow
from liveloop.experiments import store
from liveloop.experiments.store import Experiment
from liveloop.warehouse import Warehouse

REFRESH_S = 5.0
#: Older than this, serving without the warehouse waits for a re-read (a stopped arm stays served no longer).
STALE_S = 30.0
#: Exposures waiting for the warehouse; beyond it new ones are dropped (and counted).
MAX_PENDING = 50_000
#: (experiment, user) pairs already logged by this process: their exposures are not sent again.
SEEN = 200_000
FLUSH_AT = 1_000


class ArmRouter:
    """``arm(target, user_id)``: the user's experiment, arm and configuration for one target, or None."""

    def __init__(self, wh: Warehouse, refresh_s: float = REFRESH_S, clock: Callable[[], datetime] = utcnow):
        self.wh, self.refresh_s = wh, refresh_s
        self.clock = clock  # the exposures' time (the demo pins it to the simulated world's)
        self._running: list[Experiment] = []
        self._read_at = -1e9
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str, datetime]] = []
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.counters = {"exposures_logged": 0, "exposures_dropped": 0, "exposures_pending": 0}

    def running(self, *, offline: bool = False) -> list[Experiment]:
        """The running experiments, re-read when older than ``refresh_s`` (never with ``offline``)."""
        now = time.monotonic()
        if not offline and now - self._read_at > self.refresh_s:
            self._running = store.list_all(self.wh, "running")
            self._read_at = now
        return self._running

    def fresh(self, max_age_s: float = STALE_S) -> bool:
        """Whether the list was read recently enough to serve without the warehouse."""
        return time.monotonic() - self._read_at <= max_age_s

    def invalidate(self) -> None:
        self._read_at = -1e9

    def due(self) -> bool:
        return len(self._pending) >= FLUSH_AT

    def arm(self, target: str, user_id: str, *, offline: bool = False) -> dict[str, Any] | None:
        """The user's arm of the running experiment on ``target`` (buffering the first exposure), or None;
        ``offline`` uses the list as last read (no warehouse access)."""
        for exp in self.running(offline=offline):
            if exp.target != target:
                continue
            p = exp.place(user_id)
            if p.arm is None or p.served_arm is None:
                continue
            self._expose(exp.experiment_id, user_id, p.arm)
            return {
                "experiment_id": exp.experiment_id,
                "arm": p.arm,
                "served_arm": p.served_arm,
                "config": exp.config(p.served_arm),
            }
        return None

    def _expose(self, experiment_id: str, user_id: str, arm: str) -> None:
        key = (experiment_id, user_id)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return
            if len(self._pending) >= MAX_PENDING:
                self.counters["exposures_dropped"] += 1
                return
            self._seen[key] = None
            if len(self._seen) > SEEN:
                self._seen.popitem(last=False)
            self._pending.append((experiment_id, user_id, arm, self.clock()))
            self.counters["exposures_pending"] = len(self._pending)

    def flush(self) -> int:
        """Write the buffered first exposures (the caller's thread, never the event loop); on failure
        they are kept for the next flush."""
        with self._lock:
            rows, self._pending = self._pending, []
        try:
            written = store.log_exposures(self.wh, rows)
        except Exception:
            with self._lock:
                self._pending = (rows + self._pending)[:MAX_PENDING]
                self.counters["exposures_pending"] = len(self._pending)
            raise
        with self._lock:
            self.counters["exposures_logged"] += written
            self.counters["exposures_pending"] = len(self._pending)
        return written

    def forget_user(self, user_id: str) -> None:
        """Drop a user's buffered exposures and seen marks (erasure)."""
        with self._lock:
            self._pending = [r for r in self._pending if r[1] != user_id]
            self.counters["exposures_pending"] = len(self._pending)
            for key in [k for k in self._seen if k[1] == user_id]:
                del self._seen[key]
