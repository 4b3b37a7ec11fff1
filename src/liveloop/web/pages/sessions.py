"""The Sessions page: every live session newest first with its KPIs, its post-live report (open it, or
write it now) and a link to its replay in the Live Monitor. Queries in ``liveloop.analytics.sessions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.reports import archive
from liveloop.analytics.sessions import COLUMNS, MAX_LIMIT, session_table
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
WRITE = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))
NAV = {"path": "/sessions", "label": N_("Sessions"), "order": 42, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
PAGE = 50


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(
    request: Request,
    host: Annotated[str | None, Query(max_length=128)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    settings = request.app.state.settings
    wh = request.app.state.warehouse
    limit = MAX_LIMIT if export else PAGE
    page = await run_in_threadpool(
        lambda: session_table(wh, host=host or None, limit=limit, offset=offset, tz=settings.timezone)
    )
    if export:
        keys = ("session_id", "title", "host_id", "host_name", "start_ts", "end_ts", *COLUMNS, "report_id")
        return table_response([{k: r[k] for k in keys} for r in page["items"]], "liveloop-sessions", export)
    nxt = offset + PAGE if offset + PAGE < page["total"] else None
    error = request.query_params.get("error")
    return render(request, "measure/sessions.html", {"page": page, "host": host or "", "next": nxt,
                                                     "error": error})  # fmt: skip


@router.post("/sessions/{session_id}/report", dependencies=[WRITE])
async def write_report(request: Request, session_id: str) -> Response:
    """Write the session's post-live report now and open it."""
    settings = request.app.state.settings
    try:
        made = await run_in_threadpool(
            lambda: archive.generate(
                request.app.state.warehouse,
                "post_live",
                session_id=session_id,
                actor=f"key:{principal_of(request).key_id}",
                tz=settings.timezone,
                symbol=settings.currency_symbol,
            )
        )
    except LiveloopError as exc:
        context = {"page": None, "host": "", "next": None, "error": exc.detail}
        return render(request, "measure/sessions.html", context, status_code=exc.status)
    return RedirectResponse(f"/reports/{made['report_id']}/view", status_code=303)
