"""Authorisation: every route declares the roles it allows with ``require_roles``.

A caller presents an API key (``Authorization: Bearer KEY``, ``X-API-Key: KEY``, or HTTP Basic with the
key as user name and an empty password, as Segment's SDKs send their write key) or the dashboard's
session cookie. No or a bad key → 401; a key whose role is not allowed → 403; both as
problem+json. WebSocket routes use the same dependency (there the key may also come as the
``api_key`` query parameter): a refused socket is closed before it is accepted (4401, 4403, 4429).
A browser session making a state-changing request must also send its CSRF token (``X-CSRF-Token``
header or a ``csrf_token`` form field). Failed key checks are rate-limited per client address (429).
Admin is always allowed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, WebSocketException
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from liveloop.core.errors import LiveloopError, PermissionDenied, Unauthorized
from liveloop.core.types import Role
from liveloop.http.ratelimit import FailureLimiter
from liveloop.privacy.keys import Principal, verifier_for
from liveloop.privacy.sessions import Session, SessionSigner

SESSION_COOKIE = "ll_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The OpenAPI security schemes of every route that declares roles (added by ``document_security``).
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key: `liveloop keys create --role ROLE --name NAME`.",
    },
    "Bearer": {"type": "http", "scheme": "bearer", "description": "The same API key as a bearer token."},
    "Basic": {
        "type": "http",
        "scheme": "basic",
        "description": "The same API key as the user name, password empty (Segment SDKs' write key).",
    },
}


def presented_key(conn: HTTPConnection) -> str | None:
    """The API key of a request: ``X-API-Key``, else ``Authorization: Bearer`` or ``Basic`` (the user
    name); for WebSockets also the ``api_key`` query parameter (clients that cannot set WebSocket headers)."""
    headers = conn.headers
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic" and credentials.strip():
        return _basic_user(credentials.strip())
    if conn.scope["type"] == "websocket":
        return conn.query_params.get("api_key")
    return None


def _basic_user(credentials: str) -> str:
    """The user name of HTTP Basic credentials (base64 of ``user:password``); a malformed value is
    returned as it came, so the key check refuses it with 401."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return credentials
    return decoded.partition(":")[0] or credentials


def client_address(request: HTTPConnection) -> str:
    """The peer's address (a proxy's X-Forwarded-For counts only for ``LIVELOOP_TRUSTED_PROXIES``)."""
    return request.client.host if request.client else "unknown"


def attempt_of(request: HTTPConnection, key: str) -> str:
    """What failed key checks are counted by: the address and the key's id (``ll_ID.SECRET``), so
    guessing one key's secret is limited without locking out other keys used from the same address
    (everyone behind one proxy)."""
    return f"{client_address(request)} {key.partition('.')[0][:40]}"


def session_of(request: HTTPConnection) -> Session | None:
    """The dashboard session carried by the request's cookie, if valid (signature and expiry)."""
    signer: SessionSigner = request.app.state.session_signer
    return signer.read(request.cookies.get(SESSION_COOKIE))


async def authenticate(request: HTTPConnection, key: str | None) -> Principal:
    """The principal behind an API key or, failing that, the session cookie; else Unauthorized."""
    wh = request.app.state.warehouse
    verifier = verifier_for(wh)
    if key:
        limiter: FailureLimiter = request.app.state.auth_limiter
        client = attempt_of(request, key)
        cached = verifier.cached(key)
        if cached is not None:
            return cached
        limiter.check(client)
        try:
            return await run_in_threadpool(verifier.verify, wh, key)
        except Unauthorized:
            limiter.fail(client)
            raise
    session = session_of(request)
    if session is None:
        raise Unauthorized(
            "an API key is required: send `Authorization: Bearer KEY`, `X-API-Key: KEY` or Basic auth "
            "with the key as user name"
        )
    principal = await run_in_threadpool(verifier.active, wh, session.key_id)
    if principal is None:
        raise Unauthorized("the session's API key has been revoked; log in again")
    if isinstance(request, Request) and request.method not in _SAFE_METHODS:
        await _check_csrf(request, session)
    elif request.scope["type"] == "websocket":
        _check_origin(request)
    return principal


def _check_origin(conn: HTTPConnection) -> None:
    """A WebSocket opened with the session cookie must come from a page of this server."""
    origin = conn.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != conn.headers.get("host"):
        raise PermissionDenied("cross-site WebSocket refused", field="origin")


async def _check_csrf(request: Request, session: Session) -> None:
    signer: SessionSigner = request.app.state.session_signer
    token = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if token is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not signer.check_csrf(session, token):
        raise PermissionDenied(
            "missing or invalid CSRF token; reload the page and try again", field="csrf_token"
        )


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only callers holding one of ``roles`` (admin always allowed)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency(conn: HTTPConnection) -> Principal:
        # Headers are read here rather than through FastAPI's security classes: one dependency to solve
        # per request instead of three (the OpenAPI schemes are added by ``document_security``).
        key = presented_key(conn)
        try:
            principal = await authenticate(conn, key)
            conn.state.principal = principal
            if principal.role not in allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                raise PermissionDenied(f"the role {principal.role.value!r} may not do this; allowed: {names}")
        except LiveloopError as exc:
            if conn.scope["type"] == "websocket":  # closed before accept: 4401 / 4403 / 4429
                raise WebSocketException(code=4000 + exc.status, reason=exc.detail[:120]) from exc
            raise
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def principal_of(request: Request) -> Principal:
    """The authenticated caller of this request (set by ``require_roles``)."""
    principal: Any = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise Unauthorized("not authenticated")
    return principal


def document_security(app: Any) -> None:
    """Declare the key schemes in the app's OpenAPI document for every route that requires roles."""
    from fastapi.routing import APIRoute

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            cached: dict[str, Any] = app.openapi_schema
            return cached
        schema: dict[str, Any] = generate()
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        requirement: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
        for route in app.routes:
            if isinstance(route, APIRoute) and _requires_roles(route.dependant):
                operations = schema.get("paths", {}).get(route.path_format, {})
                for method in route.methods or ():
                    if method.lower() in operations:
                        operations[method.lower()]["security"] = requirement
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _requires_roles(dependant: Any) -> bool:
    return any(hasattr(d.call, "allowed_roles") or _requires_roles(d) for d in dependant.dependencies)
