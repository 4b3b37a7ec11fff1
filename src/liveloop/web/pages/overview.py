"""The Overview page: KPI tiles (the last 7 days against the 7 before, a sparkline of each day, the
target), GMV and orders per day, top products. Queries live in ``liveloop.analytics.overview``; the data
status moved to the Data page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.overview import gmv_per_day, kpi_tiles, top_products
from liveloop.analytics.reports.charts import sparkline
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import figure, gettext_of, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/overview", "label": N_("Overview"), "order": 10, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


def _charts(
    gmv_days: list[Any], top: list[dict[str, Any]], gettext: Callable[[str], str], symbol: str, lang: str
) -> dict[str, object]:
    """GMV and orders per day, top products; money axes carry the currency symbol and start at zero."""
    gmv = go.Figure()
    gmv.add_bar(
        x=[d for d, _, _ in gmv_days], y=[float(g) for _, g, _ in gmv_days], name=gettext("GMV"),
        marker_color="#e4393c",
    )  # fmt: skip
    gmv.add_scatter(
        x=[d for d, _, _ in gmv_days], y=[n for _, _, n in gmv_days], name=gettext("Orders"), yaxis="y2",
        mode="lines+markers", line_color="#1f6feb",
    )  # fmt: skip
    gmv.update_layout(
        yaxis2={"overlaying": "y", "side": "right", "title": gettext("Orders"), "rangemode": "tozero"},
        yaxis={"title": gettext("GMV"), "tickprefix": symbol, "rangemode": "tozero"},
        legend={"orientation": "h"},
        xaxis={"type": "date", "tickformat": "%m-%d", "dtick": 86_400_000},
    )
    ranked = list(reversed(top))
    products = go.Figure(
        go.Bar(
            x=[float(p["gmv"]) for p in ranked],
            y=[str(p["title_en"] if lang == "en" else p["title"])[:30] for p in ranked],
            orientation="h",
            marker_color="#e4393c",
            name=gettext("GMV"),
        )
    )
    products.update_layout(yaxis={"automargin": True}, xaxis={"tickprefix": symbol, "rangemode": "tozero"})
    return {"gmv": figure(gmv), "top": figure(products, height=420)}


def _data(wh: Any, tz: str) -> dict[str, Any]:
    tiles = kpi_tiles(wh, tz)
    gmv, source = gmv_per_day(wh, tz)
    return {"tiles": tiles, "gmv": gmv, "gmv_source": source, "top": top_products(wh)}


@router.get("/", response_class=HTMLResponse)
@router.get("/overview", response_class=HTMLResponse)
async def overview_page(
    request: Request, export: Annotated[str | None, Query(max_length=8)] = None
) -> Response:
    settings = request.app.state.settings
    data = await run_in_threadpool(_data, request.app.state.warehouse, settings.timezone)
    tiles = data["tiles"]["tiles"]
    if export:
        rows = [{k: t[k] for k in ("metric", "name_en", "name_zh", "unit", "value", "previous", "change")}
                for t in tiles]  # fmt: skip
        return table_response(rows, "liveloop-kpis", export)
    for t in tiles:
        t["spark"] = sparkline([v for _, v in t["trend"]])
    return render(
        request,
        "overview.html",
        {
            "kpis": data["tiles"],
            "charts": _charts(
                data["gmv"], data["top"], gettext_of(request), settings.currency_symbol, lang_of(request)
            ),
            "top_products": data["top"],
            "gmv_source": data["gmv_source"],
            "empty": not tiles,
        },
    )
