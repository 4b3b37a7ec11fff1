"""The FastAPI application factory. Routers are discovered in ``liveloop.api.routes``.

The app opens the warehouse once at start-up (DuckDB allows one writing process, so one app
process owns it) and shares it between requests; the dashboard (``liveloop.web``) is mounted on
the same app.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from liveloop.api.auth import document_security
from liveloop.api.errors import install_error_handlers
from liveloop.api.headers import SecurityHeadersMiddleware
from liveloop.api.idempotency import IdempotencyStore
from liveloop.api.ingest_queue import IngestQueue
from liveloop.api.limits import BODY_IDLE_TIMEOUT_S, MAX_BODY_BYTES, BodyLimitMiddleware
from liveloop.api.metrics import MetricsMiddleware
from liveloop.api.ratelimit import FailureLimiter
from liveloop.core.config import Settings, get_settings
from liveloop.core.crypto import load_cipher
from liveloop.privacy.sessions import SessionSigner
from liveloop.warehouse import Warehouse

#: Paths anyone may reach without a key (checked by the route-matrix test): keep this list short.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/openapi.json",
        "/docs",
        "/docs/assets",
        "/login",
        "/logout",
        "/lang",
        "/static",
        "/static/vendor/plotly.min.js",
        "/favicon.ico",
    }
)

DESCRIPTION = """\
liveloop collects live-commerce events and serves what its capabilities produce.

Authenticate with an API key (`liveloop keys create --role ROLE --name NAME`) sent as
`Authorization: Bearer KEY` or `X-API-Key: KEY`. Errors are RFC 9457 problem+json naming the field.
"""


def create_app(settings: Settings | None = None, *, warehouse: Warehouse | None = None) -> FastAPI:
    """Build the service. Pass ``warehouse`` to serve an already open one (it is then not closed)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        wh = warehouse or Warehouse.open(settings)
        app.state.warehouse = wh
        try:
            yield
        finally:
            hub = getattr(app.state, "live_hub", None)
            if hub is not None:  # live rooms: stop processing and write what is pending before closing
                hub.stop()
            if warehouse is None:
                wh.close()

    app = FastAPI(
        title="liveloop",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    cipher = load_cipher(settings)
    app.state.settings = settings
    app.state.cipher = cipher
    app.state.session_signer = SessionSigner(cipher)
    app.state.auth_limiter = FailureLimiter(
        max_failures=int(os.environ.get("LIVELOOP_AUTH_MAX_FAILURES", "10"))
    )
    app.state.idempotency = IdempotencyStore()
    app.state.ingest_queue = IngestQueue()
    if warehouse is not None:
        app.state.warehouse = warehouse
    install_error_handlers(app)
    document_security(app)

    from liveloop.api import routes

    modules = [
        importlib.import_module(f"{routes.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name)
    ]
    # Routes are matched in order (a regex per route skipped, per request): a module may declare a
    # lower ROUTE_ORDER (default 100) to put its hot serving routes first.
    for module in sorted(modules, key=lambda m: getattr(m, "ROUTE_ORDER", 100)):
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)

    from liveloop.web import mount_dashboard

    mount_dashboard(app)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=int(os.environ.get("LIVELOOP_MAX_BODY_BYTES", MAX_BODY_BYTES)),
        idle_timeout_s=float(os.environ.get("LIVELOOP_BODY_TIMEOUT_S", BODY_IDLE_TIMEOUT_S)),
    )
    app.add_middleware(MetricsMiddleware)
    return app
