"""A task run every few seconds on a daemon thread (retention, campaign delivery)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Periodic:
    """Calls ``task()`` every ``every_s`` seconds (never when ``every_s`` ≤ 0); ``last`` is its latest
    result and ``failures`` counts the passes that raised (each is retried at the next interval)."""

    def __init__(self, task: Callable[[], Any], every_s: float, name: str):
        self.task, self.every_s, self.name = task, every_s, name
        self.last: Any = None
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"liveloop-{self.name}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.last = self.task()
            except Exception:  # a failed pass is counted and retried at the next interval
                self.failures += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
