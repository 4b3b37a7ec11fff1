"""A bounded per-client failure limiter: too many failed logins or bad keys in a window → 429."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from liveloop.http.errors import TooManyRequests


class FailureLimiter:
    """Remembers recent failures per client (at most ``max_clients``, least recently seen evicted)."""

    def __init__(self, *, max_failures: int = 10, window_s: float = 300.0, max_clients: int = 10_000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise 429 if ``client`` has used up its failures in the current window."""
        now = time.monotonic()
        with self._lock:
            recent = self._failures.get(client)
            if recent is None:
                return
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) >= self.max_failures:
                retry = int(recent[0] + self.window_s - now) + 1
                raise TooManyRequests(
                    f"too many failed attempts from this address; try again in {retry} s", retry_after=retry
                )

    def fail(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._failures.setdefault(client, deque(maxlen=self.max_failures))
            recent.append(now)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)
