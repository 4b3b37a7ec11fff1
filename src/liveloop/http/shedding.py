"""Load shedding for the write routes (pure ASGI, before the body is read): past the writes allowed in
progress the service answers 503, and a client past its request rate 429, both with ``Retry-After`` and
problem+json. Reads go first: under write pressure (a write refused in the last second) and while reads
are coming in (one in the last second), only ``busy_inflight`` writes may run at once, else
``max_inflight``; so a flood of writes cannot slow the dashboard and the recommendation calls, while a
few concurrent writes beside a few reads all pass. A refused write costs no body parsing, no
validation and no thread.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, OrderedDict
from typing import Any

from liveloop.http.headers import COMMON_HEADERS

#: POST paths that write events (bulk or live): the ones a flood comes through.
WRITE_PATHS = (
    "/v1/events",
    "/v1/segment/batch",
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/feedback",
)
LIVE_EVENTS = ("/v1/live/", "/events")


def is_write(scope: dict[str, Any]) -> bool:
    path = scope.get("path", "")
    return scope.get("method") == "POST" and (
        path in WRITE_PATHS or (path.startswith(LIVE_EVENTS[0]) and path.endswith(LIVE_EVENTS[1]))
    )


class TokenBuckets:
    """A token bucket per client (``rate`` requests a second, ``burst`` at once), at most ``max_clients``
    remembered (the least recently seen dropped: it starts again with a full bucket)."""

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000):
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go; else the seconds until a token is there."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


def client_of(scope: dict[str, Any]) -> str:
    """Who sends: the API key presented (hashed: keys never sit in memory in clear), else the address."""
    for name, value in scope.get("headers", ()):
        if name in (b"x-api-key", b"authorization"):
            return hashlib.blake2b(value, digest_size=8).hexdigest()
    client = scope.get("client")
    return str(client[0]) if client else "-"


class WriteShedder:
    """Counts writes in progress and each client's rate; refuses what is over either, before reading it."""

    def __init__(
        self,
        app: Any,
        *,
        max_inflight: int = 32,
        busy_inflight: int = 2,
        rate: float = 200.0,
        burst: float = 400.0,
        reads_window_s: float = 1.0,
    ):
        self.app = app
        self.max_inflight, self.busy_inflight = max_inflight, min(busy_inflight, max_inflight)
        self.reads_window_s = reads_window_s
        self.last_read = self.last_refusal = -1e9
        self.buckets = TokenBuckets(rate, burst)
        self.inflight = 0
        self.shed: Counter[int] = Counter()  # refusals by status, for /metrics and the benchmarks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_write(scope):
            if scope["type"] == "http" and scope.get("path") not in ("/health", "/ready"):
                self.last_read = time.monotonic()
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_of(scope))
        if wait > 0:
            await self._refuse(send, 429, "this client sends faster than its rate; slow down", wait)
            return
        now = time.monotonic()
        pressed = now - self.last_read < self.reads_window_s and now - self.last_refusal < self.reads_window_s
        if self.inflight >= (self.busy_inflight if pressed else self.max_inflight):
            await self._refuse(send, 503, "the service is busy writing; retry shortly", 1.0)
            return
        self.inflight += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _refuse(self, send: Any, status: int, detail: str, wait: float) -> None:
        self.shed[status] += 1
        self.last_refusal = time.monotonic()
        retry = max(1, int(wait + 0.999))
        body = json.dumps(
            {
                "type": f"https://liveloop.dev/problems/http-{status}",
                "title": "Too many requests" if status == 429 else "Service unavailable",
                "status": status,
                "detail": detail,
                "retry_after": retry,
            }
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry).encode()),
            (b"connection", b"close"),  # the unread body is not drained: the connection goes
            *((k.encode(), v.encode()) for k, v in COMMON_HEADERS.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
