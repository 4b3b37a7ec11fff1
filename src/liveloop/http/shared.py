"""State that several server processes share, kept in Redis when ``LIVELOOP_REDIS_URL`` is set: the
failed-key limiter (``RedisFailureLimiter``) and the responses kept for ``Idempotency-Key``
(``liveloop.api.idempotency.RedisIdempotencyStore``). Without the setting each process keeps them in its
own memory, as a single server always has.

Redis unreachable when the server starts is one line naming it; lost while serving, the requests that
need it answer 503 with the reason and ``Retry-After`` (nothing is half-written: the limiter's and the
store's writes are single commands), and they work again once it is back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from liveloop.core.errors import LiveloopError
from liveloop.http.errors import TooManyRequests

#: Every key liveloop writes starts with this (one Redis may serve other applications too).
PREFIX = "liveloop:"


class SharedStateUnavailable(LiveloopError):
    status, title, type_slug = 503, "Shared state unavailable", "shared-state-unavailable"


def _where(url: str) -> str:
    """Host and port of a Redis URL, never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str) -> Any:
    """A Redis client for ``url``, after checking that Redis answers (one clear line when it does not)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise LiveloopError(
            f"Redis at {_where(url)} is not reachable ({_reason(exc)}): start it, or unset "
            "LIVELOOP_REDIS_URL to keep the shared state in this process",
            field="LIVELOOP_REDIS_URL",
        ) from exc
    return client


@contextmanager
def reachable() -> Iterator[None]:
    """Turn a Redis failure inside the block into a 503 with the reason (retry in a second)."""
    import redis

    try:
        yield
    except redis.RedisError as exc:
        raise SharedStateUnavailable(
            f"the shared state (Redis) is not reachable: {_reason(exc)}; retry when it is back",
            extra={"retry_after": 1},
        ) from exc


class RedisFailureLimiter:
    """:class:`liveloop.http.ratelimit.FailureLimiter` over Redis: one sorted set of failure times per
    client, trimmed to the window and expiring with it, so every process counts the same failures."""

    def __init__(self, client: Any, *, max_failures: int = 10, window_s: float = 300.0):
        self.client = client
        self.max_failures = max_failures
        self.window_s = window_s

    def _key(self, client: str) -> str:
        return f"{PREFIX}authfail:{client}"

    def check(self, client: str) -> None:
        now = time.time()
        with reachable():
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(self._key(client), "-inf", now - self.window_s)
            pipe.zrange(self._key(client), 0, 0, withscores=True)
            pipe.zcard(self._key(client))
            _, oldest, count = pipe.execute()
        if count >= self.max_failures:
            retry = int(oldest[0][1] + self.window_s - now) + 1 if oldest else int(self.window_s)
            raise TooManyRequests(
                f"too many failed attempts from this address; try again in {retry} s", retry_after=retry
            )

    def fail(self, client: str) -> None:
        now = time.time()
        with reachable():
            pipe = self.client.pipeline()
            pipe.zadd(self._key(client), {uuid.uuid4().hex: now})
            pipe.zremrangebyscore(self._key(client), "-inf", now - self.window_s)
            pipe.zremrangebyrank(self._key(client), 0, -self.max_failures - 1)  # the newest only: bounded
            pipe.expire(self._key(client), int(self.window_s) + 1)
            pipe.execute()


def redis_state(client: Any) -> dict[str, Any]:
    """``{"ok": True}`` when Redis answers a ping, else ``ok`` false and the reason (for ``/ready``)."""
    import redis

    try:
        client.ping()
    except redis.RedisError as exc:
        return {"ok": False, "reason": f"Redis is not reachable: {_reason(exc)}"}
    return {"ok": True}
