"""Security headers on every response; HTML gets a Content-Security-Policy that allows only our own assets."""

from __future__ import annotations

from typing import Any

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
# Plotly's bundle compiles some functions at run time ('unsafe-eval') and injects styles.
_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


#: On TLS only: browsers then refuse plain HTTP to this host for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000")

#: The same headers as text, for responses made outside this middleware (a 500 is rendered by the
#: outermost error middleware, after this one has been left).
COMMON_HEADERS = {k.decode(): v.decode() for k, v in [*_COMMON, (b"content-security-policy", _CSP)]}


class SecurityHeadersMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers.extend(_COMMON)
                if scope.get("scheme") == "https":
                    headers.append(HSTS)
                if content_type.startswith(b"text/html"):
                    headers.append((b"content-security-policy", _CSP))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
