"""The Reports page: the archive (open or download each report in either language, HTML or PDF), writing
a weekly or monthly report now, and the schedules that e-mail them (recipients masked)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.reports import archive, schedules
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
WRITE = Depends(require_roles(Role.ANALYST, Role.MARKETER))
NAV = {"path": "/reports", "label": N_("Reports"), "order": 44, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
MIME = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def _context(request: Request, kind: str | None, offset: int) -> dict[str, object]:
    wh = request.app.state.warehouse
    page = archive.list_reports(wh, kind=kind or None, limit=50, offset=offset)
    principal = request.state.principal
    may_write = principal.role in (Role.ADMIN, Role.ANALYST, Role.MARKETER)
    found = schedules.public(wh, request.app.state.cipher) if may_write else []
    return {"page": page, "kind": kind or "", "schedules": found, "may_write": may_write, "error": None}


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    try:
        context = await run_in_threadpool(_context, request, kind, offset)
    except LiveloopError as exc:
        context = await run_in_threadpool(_context, request, None, 0)
        context["error"] = exc.detail
    if export:
        page = context["page"]
        assert isinstance(page, dict)
        keys = ("report_id", "kind", "subject", "title", "period_start", "period_end", "created_at")
        return table_response([{k: r[k] for k in keys} for r in page["items"]], "liveloop-reports", export)
    return render(request, "measure/reports.html", context)


@router.post("/reports", dependencies=[WRITE])
async def write_report(request: Request) -> Response:
    """Write a weekly or monthly report now (the form's ``kind``) and open it."""
    form = await request.form()
    kind = str(form.get("kind") or "")
    settings = request.app.state.settings
    try:
        made = await run_in_threadpool(
            lambda: archive.generate(
                request.app.state.warehouse,
                kind,
                actor=f"key:{principal_of(request).key_id}",
                tz=settings.timezone,
                symbol=settings.currency_symbol,
            )
        )
    except LiveloopError as exc:
        context = await run_in_threadpool(_context, request, None, 0)
        return render(
            request, "measure/reports.html", context | {"error": exc.detail}, status_code=exc.status
        )
    return RedirectResponse(f"/reports/{made['report_id']}/view", status_code=303)


@router.get("/reports/{report_id}/view")
async def view_report(
    request: Request,
    report_id: str,
    format: Literal["html", "pdf"] = "html",
    lang: Literal["zh", "en"] | None = None,
) -> Response:
    """A report as a page (HTML, in the dashboard's language by default) or its PDF."""
    settings = request.app.state.settings
    chosen = lang or lang_of(request)
    wh = request.app.state.warehouse
    entry = await run_in_threadpool(archive.entry, wh, report_id)
    body = await run_in_threadpool(
        lambda: archive.file_of(
            wh, report_id, format, chosen, tz=settings.timezone, symbol=settings.currency_symbol
        )
    )
    name = archive.filename(entry, format, chosen)
    disposition = "attachment" if format == "pdf" else "inline"
    return Response(
        body, media_type=MIME[format], headers={"Content-Disposition": f'{disposition}; filename="{name}"'}
    )
