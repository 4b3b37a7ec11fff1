"""The composition root: one FastAPI app serving the API (``liveloop.api``) and the dashboard
(``liveloop.web``). The only module that imports both faces; ``liveloop serve`` runs it on uvicorn by
its import string, ``liveloop.server:serving_app`` (the app plus the CLI's bridge, ``cli.bridge``).

The app opens the warehouse once at start-up (DuckDB allows one writing process, so one app process
owns it) and shares it between requests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from liveloop import explainers
from liveloop.analytics import rollups
from liveloop.api import DESCRIPTION, mount_api
from liveloop.api.metrics import MetricsMiddleware
from liveloop.campaigns.schedule import delivery_schedule, reports_schedule
from liveloop.core.config import Settings, get_settings
from liveloop.core.periodic import Periodic
from liveloop.http import install_http
from liveloop.http.headers import SecurityHeadersMiddleware
from liveloop.http.limits import BODY_IDLE_TIMEOUT_S, MAX_BODY_BYTES, BodyLimitMiddleware
from liveloop.http.redact import install_log_redaction
from liveloop.http.shedding import WriteShedder
from liveloop.privacy.retention import RetentionSchedule
from liveloop.warehouse import Warehouse
from liveloop.web import mount_dashboard

#: Paths anyone may reach without a key (checked by the route-matrix test): keep this list short.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/ready",
        "/openapi.json",
        "/docs",
        "/docs/assets",
        "/login",
        "/logout",
        "/lang",
        "/v1/messages/unsubscribe",
        "/static",
        "/static/vendor/plotly.min.js",
        "/favicon.ico",
    }
)


def create_app(settings: Settings | None = None, *, warehouse: Warehouse | None = None) -> FastAPI:
    """Build the service. Pass ``warehouse`` to serve an already open one (it is then not closed)."""
    settings = settings or get_settings()
    explainers.load()  # the API and the User 360 page explain every kind of decision

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        wh = warehouse or Warehouse.open(settings)
        app.state.warehouse = wh
        retention = RetentionSchedule(wh, float(os.environ.get("LIVELOOP_RETENTION_EVERY_S", "86400")))
        app.state.retention = retention
        retention.start()
        delivery = delivery_schedule(wh, app, float(os.environ.get("LIVELOOP_DELIVERY_EVERY_S", "15")))
        app.state.delivery = delivery
        delivery.start()
        reports = reports_schedule(wh, app, float(os.environ.get("LIVELOOP_REPORTS_EVERY_S", "30")))
        app.state.reports = reports
        reports.start()
        # the KPI rollup kept fresh off the request path (a read refreshes what is still stale)
        rollup = Periodic(
            lambda: rollups.refresh(wh, settings.timezone),
            float(os.environ.get("LIVELOOP_ROLLUP_EVERY_S", "60")),
            "rollups",
        )
        rollup.start()
        try:
            yield
        finally:
            rollup.stop()
            reports.stop()
            delivery.stop()
            retention.stop()
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
    if warehouse is not None:
        app.state.warehouse = warehouse
    install_http(app, settings)
    install_log_redaction()
    mount_api(app)
    mount_dashboard(app)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=int(os.environ.get("LIVELOOP_MAX_BODY_BYTES", MAX_BODY_BYTES)),
        idle_timeout_s=float(os.environ.get("LIVELOOP_BODY_TIMEOUT_S", BODY_IDLE_TIMEOUT_S)),
    )
    app.add_middleware(
        WriteShedder,
        max_inflight=int(os.environ.get("LIVELOOP_MAX_WRITES_INFLIGHT", "32")),
        busy_inflight=int(os.environ.get("LIVELOOP_MAX_WRITES_INFLIGHT_READING", "2")),
        rate=float(os.environ.get("LIVELOOP_WRITE_RATE", "200")),
        burst=float(os.environ.get("LIVELOOP_WRITE_BURST", "400")),
    )
    app.add_middleware(MetricsMiddleware)
    return app


def serving_app() -> FastAPI:
    """What ``liveloop serve`` runs: the app, plus ``POST /v1/cli`` so other ``liveloop`` commands run
    through the server while it holds the warehouse (``cli.bridge``)."""
    from liveloop.cli import serving
    from liveloop.cli.bridge import SERVE_URL_ENV
    from liveloop.cli.main import run

    settings = get_settings()
    app = create_app(settings)
    url = os.environ.get(SERVE_URL_ENV)
    if url:
        serving.mount(app, settings, url, run)
    return app
