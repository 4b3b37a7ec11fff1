"""The Overview page: data status and headline charts (queries live in ``liveloop.analytics.overview``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.overview import Overview, overview
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.i18n import translate
from liveloop.web.templating import figure, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/overview", "zh": "概览", "en": "Overview", "order": 10, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


def _charts(data: Overview, lang: str, symbol: str) -> dict[str, object]:
    """The three charts; money axes carry the currency symbol and every amount axis starts at zero."""
    t = lambda key: translate(key, lang)  # noqa: E731
    events = go.Figure(
        go.Bar(
            x=[h for h, _ in data.events_per_hour],
            y=[n for _, n in data.events_per_hour],
            name=t("overview.events"),
            marker_color="#e4393c",
        )
    )
    gmv = go.Figure()
    gmv.add_bar(
        x=[d for d, _, _ in data.gmv_per_day],
        y=[float(g) for _, g, _ in data.gmv_per_day],
        name=t("overview.gmv"),
        marker_color="#e4393c",
    )
    gmv.add_scatter(
        x=[d for d, _, _ in data.gmv_per_day],
        y=[n for _, _, n in data.gmv_per_day],
        name=t("overview.orders"),
        yaxis="y2",
        mode="lines+markers",
        line_color="#1f6feb",
    )
    gmv.update_layout(
        yaxis2={"overlaying": "y", "side": "right", "title": t("overview.orders"), "rangemode": "tozero"},
        yaxis={"title": t("overview.gmv"), "tickprefix": symbol, "rangemode": "tozero"},
        legend={"orientation": "h"},
        xaxis={"type": "date", "tickformat": "%m-%d", "dtick": 86_400_000},
    )
    top = list(reversed(data.top_products))
    products = go.Figure(
        go.Bar(
            x=[float(p["gmv"]) for p in top],
            y=[str(p["title"])[:30] for p in top],
            orientation="h",
            marker_color="#e4393c",
            name=t("overview.gmv"),
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
    lang = lang_of(request)
    last = data.last_event.astimezone(ZoneInfo(settings.timezone)) if data.last_event else None
    status = {**data.to_dict(), "last_event": f"{last:%Y-%m-%d %H:%M:%S %Z}" if last else None}
    return render(
        request,
        "overview.html",
        {
            "status": status,
            "charts": _charts(data, lang, settings.currency_symbol),
            "gmv_source": data.gmv_source,
            "empty": data.row_counts.get("events", 0) == 0,
        },
    )
