"""``Idempotency-Key`` on writes: a retried request with the same key gets the first response again.

Responses are remembered per (caller, key) in a bounded, expiring in-memory table, or in Redis when
``LIVELOOP_REDIS_URL`` is set (shared by every server process, kept across restarts); a key reused with a
different body is a 422. Retries that race are serialised by a small set of striped locks. Events are
also idempotent by ``event_id`` in the warehouse, so a retry after a restart still loads nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from liveloop.core.errors import ValidationFailed
from liveloop.http.shared import PREFIX, reachable
from liveloop.privacy.keys import Principal

HEADER = "Idempotency-Key"
_STRIPES = 64


@dataclass(frozen=True)
class _Stored:
    fingerprint: str
    status: int
    body: Any
    expires: float


class IdempotencyStore:
    """Responses kept per (caller, key) in this process: bounded, expiring."""

    def __init__(self, *, max_entries: int = 4096, ttl_s: float = 24 * 3600):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], _Stored] = OrderedDict()
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]

    @contextmanager
    def _serialised(self, scope: tuple[str, str]) -> Iterator[None]:
        with self._stripes[hash(scope) % _STRIPES]:
            yield

    def _get(self, scope: tuple[str, str]) -> tuple[str, int, Any] | None:
        with self._guard:
            stored = self._entries.get(scope)
            if stored is not None and stored.expires < time.monotonic():
                del self._entries[scope]
                stored = None
        return None if stored is None else (stored.fingerprint, stored.status, stored.body)

    def _put(self, scope: tuple[str, str], fingerprint: str, status: int, body: Any) -> None:
        with self._guard:
            self._entries[scope] = _Stored(fingerprint, status, body, time.monotonic() + self.ttl_s)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def run(
        self, scope: tuple[str, str], fingerprint: str, produce: Callable[[], tuple[int, Any]]
    ) -> JSONResponse:
        """The stored response for ``scope`` if any (same body required), else ``produce()`` stored."""
        with self._serialised(scope):
            stored = self._get(scope)
            if stored is not None:
                if stored[0] != fingerprint:
                    raise ValidationFailed(
                        "this Idempotency-Key was used with a different request body", field=HEADER
                    )
                return JSONResponse(stored[2], status_code=stored[1], headers={"Idempotent-Replayed": "true"})
            status, body = produce()
            if status < 500:
                self._put(scope, fingerprint, status, jsonable_encoder(body))
            return JSONResponse(body, status_code=status)


class RedisIdempotencyStore(IdempotencyStore):
    """The same, kept in Redis (``LIVELOOP_REDIS_URL``) so that a retry reaching another worker, or the
    server after a restart, gets the first response; Redis expires each entry after ``ttl_s``, and racing
    retries of one key wait on a Redis lock."""

    def __init__(self, client: Any, *, ttl_s: float = 24 * 3600):
        super().__init__(ttl_s=ttl_s)
        self.client = client

    def _key(self, scope: tuple[str, str]) -> str:
        digest = hashlib.sha256("\0".join(scope).encode()).hexdigest()
        return f"{PREFIX}idem:{digest}"

    @contextmanager
    def _serialised(self, scope: tuple[str, str]) -> Iterator[None]:
        with reachable(), self.client.lock(self._key(scope) + ":lock", timeout=60, blocking_timeout=60):
            yield

    def _get(self, scope: tuple[str, str]) -> tuple[str, int, Any] | None:
        with reachable():
            raw = self.client.get(self._key(scope))
        if raw is None:
            return None
        stored = json.loads(raw)
        return stored["fingerprint"], int(stored["status"]), stored["body"]

    def _put(self, scope: tuple[str, str], fingerprint: str, status: int, body: Any) -> None:
        entry = json.dumps({"fingerprint": fingerprint, "status": status, "body": body})
        with reachable():
            self.client.set(self._key(scope), entry, ex=int(self.ttl_s))


def respond(request: Request, payload: Any, produce: Callable[[], tuple[int, Any]]) -> JSONResponse:
    """Run ``produce`` once per Idempotency-Key (when the request has one); ``payload`` is its body."""
    key = request.headers.get(HEADER)
    if not key:
        status, body = produce()
        return JSONResponse(body, status_code=status)
    if len(key) > 255:
        raise ValidationFailed("Idempotency-Key must be at most 255 characters", field=HEADER)
    principal: Principal | None = getattr(request.state, "principal", None)
    caller = principal.key_id if principal else "anonymous"
    fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n{payload!r}".encode()).hexdigest()
    store: IdempotencyStore = request.app.state.idempotency
    return store.run((caller, key), fingerprint, produce)
