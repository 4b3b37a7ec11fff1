"""The Overview page: data status and headline charts (queries live in ``liveloop.analytics.overview``)."""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.overview import Overview, overview
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.templating import figure, gettext_of, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/overview", "label": N_("Overview"), "order": 10, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


def _charts(data: Overview, gettext: Callable[[str], str], symbol: str, lang: str) -> dict[str, object]:
    """The three charts; money axes carry the currency symbol and every amount axis starts at zero."""
    events = go.Figure(
        go.Bar(
            x=[h for h, _ in data.events_per_hour],
            y=[n for _, n in data.events_per_hour],
            name=gettext("Events"),
            marker_color="#e4393c",
        )
    )
    gmv = go.Figure()
    gmv.add_bar(
        x=[d for d, _, _ in data.gmv_per_day],
        y=[float(g) for _, g, _ in data.gmv_per_day],
        name=gettext("GMV"),
        marker_color="#e4393c",
    )
    gmv.add_scatter(
        x=[d for d, _, _ in data.gmv_per_day],
        y=[n for _, _, n in data.gmv_per_day],
        name=gettext("Orders"),
        yaxis="y2",
        mode="lines+markers",
        line_color="#1f6feb",
    )
    gmv.update_layout(
        yaxis2={"overlaying": "y", "side": "right", "title": gettext("Orders"), "rangemode": "tozero"},
        yaxis={"title": gettext("GMV"), "tickprefix": symbol, "rangemode": "tozero"},
        legend={"orientation": "h"},
        xaxis={"type": "date", "tickformat": "%m-%d", "dtick": 86_400_000},
    )
    top = list(reversed(data.top_products))
    products = go.Figure(
        go.Bar(
            x=[float(p["gmv"]) for p in top],
            y=[str(p["title_en"] if lang == "en" else p["title"])[:30] for p in top],
            orientation="h",
            marker_color="#e4393c",
            name=gettext("GMV"),
        )
    )
    products.update_layout(yaxis={"automargin": True}, xaxis={"tickprefix": symbol, "rangemode": "tozero"})
    events.update_layout(yaxis={"rangemode": "tozero"})
    return {"events": figure(events), "gmv": figure(gmv), "top": figure(products, height=420)}


@router.get("/", response_class=HTMLResponse)
@router.get("/overview", response_class=HTMLResponse)
async def overview_page(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    data = await run_in_threadpool(overview, request.app.state.warehouse, settings.timezone)
    status = {**data.to_dict(), "last_event": data.last_event}
    return render(
        request,
        "overview.html",
        {
            "status": status,
            "charts": _charts(data, gettext_of(request), settings.currency_symbol, lang_of(request)),
            "top_products": data.top_products,
            "gmv_source": data.gmv_source,
            "empty": data.row_counts.get("events", 0) == 0,
        },
    )
