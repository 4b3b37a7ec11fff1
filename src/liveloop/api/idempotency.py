"""``Idempotency-Key`` on writes: a retried request with the same key gets the first response again.

Responses are remembered per (caller, key) in a bounded, expiring in-memory table; a key reused with a
different body is a 422. Retries that race are serialised by a small set of striped locks. Events are
also idempotent by ``event_id`` in the warehouse, so a retry after a restart still loads nothing twice.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from liveloop.core.errors import ValidationFailed
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
    def __init__(self, *, max_entries: int = 4096, ttl_s: float = 24 * 3600):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], _Stored] = OrderedDict()
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]

    def run(
        self, scope: tuple[str, str], fingerprint: str, produce: Callable[[], tuple[int, Any]]
    ) -> JSONResponse:
        """The stored response for ``scope`` if any (same body required), else ``produce()`` stored."""
        with self._stripes[hash(scope) % _STRIPES]:
            with self._guard:
                stored = self._entries.get(scope)
                if stored is not None and stored.expires < time.monotonic():
                    del self._entries[scope]
                    stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ValidationFailed(
                        "this Idempotency-Key was used with a different request body", field=HEADER
                    )
                return JSONResponse(
                    stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
                )
            status, body = produce()
            if status < 500:
                with self._guard:
                    self._entries[scope] = _Stored(fingerprint, status, body, time.monotonic() + self.ttl_s)
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
            return JSONResponse(body, status_code=status)


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
