"""The Channels & Cost page: orders and GMV credited to each channel (or campaign) under an attribution
model, with cost, CAC, ROAS and ROI; every model side by side; the paths that convert; spend per day.
Everything is computed by ``liveloop.analytics.attribution``."""

from __future__ import annotations

from typing import Annotated, Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import attribution
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import figure, gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/channels", "label": N_("Channels & Cost"), "order": 36, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
MODELS = {
    "last": N_("last touch"),
    "first": N_("first touch"),
    "linear": N_("linear"),
    "position": N_("position-based"),
    "markov": N_("data-driven (Markov)"),
}
LEVELS = {"channel": N_("channel"), "campaign": N_("campaign")}
WINDOWS = (1, 3, 7, 14, 30)


def _compare_chart(compared: dict[str, Any], lang: str, gettext: Any, symbol: str) -> Any:
    fig = go.Figure()
    for model, result in compared.items():
        rows = [r for r in result["rows"] if r["gmv"]]
        fig.add_trace(
            go.Bar(
                x=[label(r["touch"], lang) for r in rows],
                y=[r["gmv"] for r in rows],
                name=gettext(MODELS[model]),
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h"}, yaxis={"tickprefix": symbol})
    return figure(fig)


def _cost_chart(days: list[dict[str, Any]], lang: str, symbol: str) -> Any:
    fig = go.Figure()
    for channel in sorted({d["channel"] for d in days}):
        mine = [d for d in days if d["channel"] == channel]
        fig.add_trace(
            go.Bar(x=[d["day"] for d in mine], y=[d["cost"] for d in mine], name=label(channel, lang))
        )
    fig.update_layout(barmode="stack", legend={"orientation": "h"}, yaxis={"tickprefix": symbol},
                      xaxis={"type": "date", "tickformat": "%m-%d"})  # fmt: skip
    return figure(fig, height=300)


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(
    request: Request,
    model: Annotated[str, Query(max_length=16)] = "markov",
    level: Annotated[str, Query(max_length=16)] = "channel",
    window: Annotated[int, Query(ge=1, le=attribution.MAX_WINDOW_DAYS)] = 7,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    wh = request.app.state.warehouse
    settings = request.app.state.settings
    lang = lang_of(request)
    context: dict[str, Any] = {
        "model": model, "level": level, "window": window, "models": MODELS, "levels": LEVELS,
        "windows": WINDOWS, "error": None, "result": None,
    }  # fmt: skip
    try:
        compared = await run_in_threadpool(lambda: attribution.compare(wh, level=level, window_days=window))
        if model not in compared:
            attribution.report(wh, model=model)  # the clear error naming the field
        result = compared[model]
        if export:
            return table_response(result["rows"], f"liveloop-attribution-{model}", export)
        symbol = settings.currency_symbol
        context.update(
            result=result,
            compare_chart=_compare_chart(compared, lang, gettext_of(request), symbol),
        )
    except LiveloopError as exc:
        context.update(error=exc.detail, error_field=exc.field)
    days = await run_in_threadpool(lambda: attribution.costs_per_day(wh, tz=settings.timezone))
    context.update(costs=days, cost_chart=_cost_chart(days, lang, settings.currency_symbol) if days else None)
    return render(request, "measure/channels.html", context)
