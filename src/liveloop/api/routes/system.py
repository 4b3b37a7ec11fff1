"""Service endpoints: health, readiness, Prometheus metrics and the offline API docs page (Swagger UI
served locally)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from liveloop.api.metrics import render
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.http.shared import redis_state
from liveloop.warehouse.backup import backup_to_home, home_backups

router = APIRouter(tags=["service"])

_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>liveloop API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""


@router.get("/health", summary="Liveness: the process serves and its warehouse is open (public)")
async def health(request: Request) -> dict[str, Any]:
    # No query: a health probe must not queue behind a long ingest transaction for the writer lock.
    wh = request.app.state.warehouse
    return {"status": "ok", "warehouse": wh.path.name}


@router.get(
    "/ready",
    summary="Readiness: the warehouse writer takes writes, and Redis answers when configured (public); 503 "
    "with the failing check otherwise",
)
async def ready(request: Request) -> JSONResponse:
    checks = {"writer": request.app.state.ingest_queue.state()}
    redis = getattr(request.app.state, "redis", None)
    if redis is not None:
        checks["redis"] = await run_in_threadpool(redis_state, redis)
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ok else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "1"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[Depends(require_roles(Role.ANALYST))],
)
def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(_DOCS_HTML)


@router.post(
    "/v1/backups",
    dependencies=[Depends(require_roles())],
    summary="A consistent backup of the warehouse while serving, into LIVELOOP_HOME/backups (admin)",
)
def create_backup(request: Request) -> dict[str, Any]:
    return backup_to_home(request.app.state.warehouse, request.app.state.settings)


@router.get(
    "/v1/backups", dependencies=[Depends(require_roles())], summary="The backups in LIVELOOP_HOME/backups"
)
def list_backups(request: Request) -> dict[str, Any]:
    return {"items": home_backups(request.app.state.settings)}
