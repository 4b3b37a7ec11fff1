"""The KPIs page: every KPI of the registry at a grain (platform, day, host, session, product, channel,
segment) over the last days of data, and a category's penetration in each segment. Computed by
``liveloop.analytics``; a bad choice is shown next to the form."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import kpis, targets
from liveloop.analytics.catalog import display_names
from liveloop.analytics.penetration import penetration
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/kpis", "label": N_("KPIs"), "order": 33, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
GRAINS = {
    "platform": N_("all"),
    "day": N_("day"),
    "host": N_("host"),
    "session": N_("session"),
    "product": N_("product"),
    "channel": N_("channel"),
    "segment": N_("segment"),
}
DAYS = (1, 7, 30, 90)
MAX_ROWS = 200


def _context(wh: Any, grain: str, days: int, category: str | None, tz: str, lang: str) -> dict[str, Any]:
    newest = targets.newest_data(wh)
    out: dict[str, Any] = {
        "result": None,
        "error": None,
        "pen": None,
        "pen_error": None,
        "as_of": newest,
        "names": {},
    }
    categories = [
        r[0] for r in wh.sql("SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1")
    ]
    out["categories"] = categories
    if newest is None:
        return out
    end = newest + timedelta(microseconds=1)
    start = end - timedelta(days=days)
    try:
        result = kpis.compute(wh, None, grain, start=start, end=end, tz=tz)
        result["rows"] = sorted(result["rows"], key=lambda r: -(r.get("gmv") or 0))[:MAX_ROWS]
        out["result"] = result
        out["names"] = display_names(wh, grain, [r["key"] for r in result["rows"] if r["key"]], lang)
    except LiveloopError as exc:
        out.update(error=exc.detail, error_field=exc.field)
    chosen = category or (categories[0] if categories else None)
    out["category"] = chosen
    if chosen:
        try:
            out["pen"] = penetration(wh, chosen, start=start, end=end)
        except LiveloopError as exc:
            out["pen_error"] = exc.detail
    return out


@router.get("/kpis", response_class=HTMLResponse)
async def kpis_page(
    request: Request,
    grain: Annotated[str, Query(max_length=16)] = "platform",
    days: Annotated[int, Query(ge=1, le=3660)] = 7,
    category: Annotated[str | None, Query(max_length=64)] = None,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    tz = request.app.state.settings.timezone
    wh = request.app.state.warehouse
    context = await run_in_threadpool(_context, wh, grain, days, category or None, tz, lang_of(request))
    if export and context["result"]:
        return table_response(context["result"]["rows"], f"liveloop-kpis-{grain}", export)
    context.update(grain=grain, days=days, grains=GRAINS, day_choices=DAYS)
    return render(request, "measure/kpis.html", context)
