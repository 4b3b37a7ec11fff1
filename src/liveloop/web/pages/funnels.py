"""The Funnels page: a funnel over any steps (or the live and lifecycle presets) with its window, mode and
breakdown — users per step as a chart and a table with conversion and time to convert — where the KPI
targets stand, and retention by first-purchase week (or month). Everything is decided by
``liveloop.analytics``; a bad choice is shown next to the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import cohorts, funnels, targets
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import figure, gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/funnels", "label": N_("Funnels"), "order": 35, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
MODES = {"ordered": N_("in order"), "strict": N_("strictly in a row"), "any": N_("in any order")}
BREAKDOWNS = {
    "": N_("none"),
    "channel": N_("channel"),
    "host": N_("host"),
    "category": N_("category"),
    "segment": N_("segment"),
}
PRESETS = {"live": N_("live room"), "lifecycle": N_("lifecycle"), "": N_("my steps")}
WINDOWS = {
    3600: N_("1 hour"),
    6 * 3600: N_("6 hours"),
    86400: N_("1 day"),
    7 * 86400: N_("7 days"),
    30 * 86400: N_("30 days"),
}


def _chart(result: dict[str, Any], lang: str, gettext: Callable[[str], str]) -> Any:
    fig = go.Figure()
    names = [label(s["step"], lang) for s in result["steps"]]
    groups = result["groups"] or [{"breakdown": None, "steps": result["steps"]}]
    for g in groups:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[s["users"] for s in g["steps"]],
                name=gettext("Users") if g["breakdown"] is None else label(g["breakdown"], lang),
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h"})
    return figure(fig)


@router.get("/funnels", response_class=HTMLResponse)
async def funnels_page(
    request: Request,
    preset: Annotated[str, Query(max_length=16)] = "live",
    steps: Annotated[str, Query(max_length=300)] = "",
    window: Annotated[int, Query(ge=1, le=funnels.MAX_WINDOW_S)] = 6 * 3600,
    mode: Annotated[str, Query(max_length=16)] = "ordered",
    breakdown: Annotated[str, Query(max_length=16)] = "",
    cohort: Annotated[str, Query(max_length=8)] = "week",
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    wh = request.app.state.warehouse
    lang = lang_of(request)
    context: dict[str, Any] = {
        "preset": preset,
        "steps_text": steps,
        "window": window,
        "mode": mode,
        "breakdown": breakdown,
        "modes": MODES,
        "breakdowns": BREAKDOWNS,
        "presets": PRESETS,
        "windows": WINDOWS,
        "error": None,
    }
    common: dict[str, Any] = {"window_s": window, "mode": mode, "breakdown": breakdown or None}
    try:
        spec = funnels.FunnelSpec.of(steps, preset, **common)
        result = await run_in_threadpool(funnels.run, wh, spec)
        if export:
            return table_response(funnels.rows(result), "liveloop-funnel", export)
        context.update(result=result, chart=_chart(result, lang, gettext_of(request)))
    except LiveloopError as exc:
        context.update(error=exc.detail, error_field=exc.field)
    tz = request.app.state.settings.timezone
    context["status"] = await run_in_threadpool(lambda: targets.status(wh, tz=tz))
    try:
        context["cohorts"] = await run_in_threadpool(
            lambda: cohorts.retention(wh, period=cohort, offsets=8, tz=tz)
        )
    except LiveloopError as exc:
        context.update(cohorts=None, cohort_error=exc.detail)
    context["cohort_period"] = cohort
    return render(request, "measure/funnels.html", context)
