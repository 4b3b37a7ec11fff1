"""The Data page: what the warehouse holds (rows per table), the newest event, the quarantine, and
events per hour (queries in ``liveloop.analytics.overview``)."""

from __future__ import annotations

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.overview import overview
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.templating import figure, gettext_of, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/data", "label": N_("Data"), "order": 90, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


@router.get("/data", response_class=HTMLResponse)
async def data_page(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    data = await run_in_threadpool(overview, request.app.state.warehouse, settings.timezone)
    events = go.Figure(
        go.Bar(
            x=[h for h, _ in data.events_per_hour],
            y=[n for _, n in data.events_per_hour],
            name=gettext_of(request)("Events"),
            marker_color="#e4393c",
        )
    )
    events.update_layout(yaxis={"rangemode": "tozero"})
    status = {**data.to_dict(), "last_event": data.last_event}
    return render(
        request,
        "data.html",
        {"status": status, "events_chart": figure(events), "empty": data.row_counts.get("events", 0) == 0},
    )
