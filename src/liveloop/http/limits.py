"""Request-body guards (pure ASGI middleware): a size cap (413) and a read deadline for slow clients (408)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException

from liveloop.http.errors import PROBLEM, http_problem

#: Default body cap: a full batch of 1,000 rich events fits with room to spare.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: A client that sends no body bytes for this long is cut off with 408.
BODY_IDLE_TIMEOUT_S = 15.0


class BodyLimitMiddleware:
    """Rejects bodies over ``max_bytes`` (by Content-Length, or while streaming) and stalled uploads."""

    def __init__(
        self, app: Any, *, max_bytes: int = MAX_BODY_BYTES, idle_timeout_s: float = BODY_IDLE_TIMEOUT_S
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reply(send, scope, 400, "the Content-Length header is not a number")
                return
            if declared > self.max_bytes:
                await _reply(send, scope, 413, self._too_large())
                return
        received = 0
        started = False

        async def guarded_receive() -> dict[str, Any]:
            nonlocal received
            try:
                message: dict[str, Any] = await asyncio.wait_for(receive(), self.idle_timeout_s)
            except TimeoutError:
                raise HTTPException(
                    408, f"the request body stalled for more than {self.idle_timeout_s:g} s"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except HTTPException as abort:  # raised while the app read the body outside FastAPI's handlers
            if not started:
                await _reply(send, scope, abort.status_code, str(abort.detail))

    def _too_large(self) -> str:
        return f"the request body exceeds the limit of {self.max_bytes:,} bytes"


async def _reply(send: Any, scope: dict[str, Any], status: int, detail: str) -> None:
    body = json.dumps(http_problem(status, detail, scope.get("path"))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
