"""The Forecasts page: sales (GMV or units) of the keys that sold most per category, product, host or the
whole platform, forecast ahead with 80% and 95% intervals beside their recent history, and the stock
plan of a live session (each lineup product's stock at a 95% service level).

Computed by ``liveloop.analytics.forecast_service`` and ``liveloop.analytics.demand``; a request the
data cannot answer shows its reason next to the form."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import demand, forecast_service
from liveloop.analytics.catalog import display_names
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.templating import figure, gettext_of, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/forecasts", "label": N_("Forecasts"), "order": 37.5, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
GROUPINGS = {"category": N_("category"), "product": N_("product"), "host": N_("host"), "platform": N_("all")}
MEASURES = {"gmv": N_("GMV"), "units": N_("units sold")}
HORIZONS = (7, 14, 28)
#: Series drawn on the page (the keys that sold most).
TOP = 6
SESSIONS_LISTED = 30


def _chart(series: dict[str, Any], measure: str, gettext: Any) -> Any:
    """History, the forecast and its 80% and 95% bands."""
    fig = go.Figure()
    hist = series["history"]
    fc = series["forecast"]
    xs = [r["ds"] for r in fc]
    band = [(("0.025", "0.975"), "rgba(31,111,235,0.12)", gettext("95%% interval") % {}),
            (("0.1", "0.9"), "rgba(31,111,235,0.25)", gettext("80%% interval") % {})]  # fmt: skip
    for (lo, hi), colour, name in band:
        fig.add_scatter(x=xs, y=[r["quantiles"][hi] for r in fc], mode="lines", line={"width": 0},
                        showlegend=False, hoverinfo="skip")  # fmt: skip
        fig.add_scatter(x=xs, y=[r["quantiles"][lo] for r in fc], mode="lines", line={"width": 0},
                        fill="tonexty", fillcolor=colour, name=name)  # fmt: skip
    fig.add_scatter(x=[r["ds"] for r in hist], y=[r["y"] for r in hist], mode="lines", name=gettext("actual"),
                    line={"color": "#1f2328"})  # fmt: skip
    fig.add_scatter(x=xs, y=[r["mean"] for r in fc], mode="lines+markers", name=gettext("forecast"),
                    line={"color": "#1f6feb"})  # fmt: skip
    fig.update_layout(
        xaxis={"type": "date"},
        yaxis={
            "title": gettext("GMV (¥)") if measure == "gmv" else gettext("units sold"),
            "rangemode": "tozero",
        },
        legend={"orientation": "h"},
    )
    return figure(fig, height=300)


def _sessions(wh: Any) -> list[dict[str, Any]]:
    """Sessions with a lineup, upcoming first, then the most recent."""
    rows = wh.sql(
        "SELECT session_id, title, start_ts FROM live_sessions WHERE len(lineup) > 0 "
        "ORDER BY start_ts >= now() DESC, abs(epoch(start_ts) - epoch(now())) LIMIT ?",
        [SESSIONS_LISTED],
    )
    return [{"session_id": r[0], "title": r[1], "start": r[2]} for r in rows]


def _context(
    wh: Any, by: str, measure: str, horizon: int, weekly: bool, session: str | None, lang: str, gettext: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"result": None, "error": None, "plan": None, "plan_error": None, "charts": []}
    try:
        result = forecast_service.sales_forecast(
            wh, by, measure, horizon, freq="W" if weekly else "D", top=TOP
        )
    except LiveloopError as exc:
        out["error"] = exc.detail
    else:
        out["result"] = result
        out["names"] = display_names(wh, by, [s["id"] for s in result["series"]], lang)
        out["charts"] = [_chart(s, measure, gettext) for s in result["series"]]
    out["sessions"] = _sessions(wh)
    if session:
        try:
            out["plan"] = demand.stock_plan(wh, session_id=session)
        except LiveloopError as exc:
            out["plan_error"] = exc.detail
    return out


@router.get("/forecasts", response_class=HTMLResponse)
async def forecasts_page(
    request: Request,
    by: Annotated[Literal["category", "product", "host", "platform"], Query()] = "category",
    measure: Annotated[Literal["gmv", "units"], Query()] = "gmv",
    horizon: Annotated[int, Query(ge=1, le=HORIZONS[-1])] = 7,
    weekly: bool = False,
    session: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    lang = lang_of(request)
    context = await run_in_threadpool(
        _context,
        request.app.state.warehouse,
        by,
        measure,
        horizon,
        weekly,
        session,
        lang,
        gettext_of(request),
    )
    context |= {
        "by": by, "measure": measure, "horizon": horizon, "weekly": weekly, "session": session,
        "groupings": GROUPINGS, "measures": MEASURES, "horizons": HORIZONS,
    }  # fmt: skip
    return render(request, "measure/forecasts.html", context)
