"""Every error as RFC 9457 problem+json: LiveloopError, validation, HTTP errors, and the unexpected."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from liveloop.core.errors import LiveloopError
from liveloop.http.headers import COMMON_HEADERS, HSTS

PROBLEM = "application/problem+json"
log = logging.getLogger("liveloop.api")

_HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Request timeout",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
}


class PayloadTooLarge(LiveloopError):
    status, title, type_slug = 413, "Content too large", "too-large"


class TooManyRequests(LiveloopError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int, field: str | None = None):
        super().__init__(detail, field=field, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def problem_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def http_problem(status: int, detail: str, instance: str | None = None, **extra: Any) -> dict[str, Any]:
    """A problem body for a plain HTTP status (404, 405, 413 …)."""
    title = _HTTP_TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": f"https://liveloop.dev/problems/http-{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def _wants_html(request: Request) -> bool:
    """A browser navigating the dashboard (not an API client): redirect to login instead of 401."""
    path = request.url.path
    if path.startswith("/v1/") or path in ("/metrics", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "") and request.method in ("GET", "HEAD")


async def _liveloop_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LiveloopError)
    if exc.status == 401 and _wants_html(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="liveloop"'
    retry_after = exc.extra.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem_response(exc.status, exc.problem(request.url.path), headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "events", 3, "ts")`` → ``events[3].ts``; query/path/header parameters keep their name."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _location(err.get("loc", ())),
            "message": str(err.get("msg", "invalid")),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            detail = f"the request body is not valid JSON: {reason}{where}"
            body = http_problem(
                400, detail, request.url.path, field="body", errors=[{"field": "body", "message": detail}]
            )
            return problem_response(400, body)
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    body = http_problem(422, detail, request.url.path, field=first["field"], errors=errors)
    body["type"] = "https://liveloop.dev/problems/validation"
    return problem_response(422, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _HTTP_TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return problem_response(
        exc.status_code, http_problem(exc.status_code, detail, request.url.path), exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = http_problem(500, "an unexpected error occurred; it has been logged", request.url.path)
    on_tls = {HSTS[0].decode(): HSTS[1].decode()} if request.url.scheme == "https" else {}
    return problem_response(500, body, COMMON_HEADERS | on_tls)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LiveloopError, _liveloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
