"""The Live Monitor page: a session picker (live now, recent), a live room redrawn from its WebSocket, and a
finished session read back from the warehouse (its summary, minutes, questions, products and alerts).

A live room's page is a shell; ``static/live/live.js`` opens ``/v1/live/{session}/stream`` and redraws on
every pushed snapshot. A finished session is rendered here, from ``liveloop.live.sessions``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.clock import display_time
from liveloop.core.errors import NotFound
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.live import sessions
from liveloop.web.templating import figure, gettext_of, render
from liveloop.web.vocab import VOCAB

ROLES = (Role.HOST, Role.ANALYST, Role.MARKETER)
NAV = {"path": "/live", "label": N_("Live Monitor"), "order": 40, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
PICKER_SIZE = 20

#: What ``live.js`` writes into the page, beyond the snapshot's own data.
_JS_MESSAGES = {
    "waiting": N_("waiting for the session"),
    "connected": N_("connected"),
    "reconnecting": N_("reconnecting…"),
    "live": N_("live"),
    "training": N_("comment model training"),
    "queued": N_("events queued"),
    "left": N_("left in stock"),
    "asked": N_("viewers asked"),
}


def _js_labels(gettext: Callable[[str], str]) -> dict[str, str]:
    """The live page script's words in the page's language: its messages and every known slug."""
    return {k: gettext(v) for k, v in {**VOCAB, **_JS_MESSAGES}.items()}


def _hub_sessions(request: Request) -> list[str]:
    """Sessions open in this process's live hub (none before the first live request)."""
    hub = getattr(request.app.state, "live_hub", None)
    if hub is None:
        return []
    return [k for k, s in hub.sessions.items() if not s.ended]


def _finished_charts(data: dict[str, Any], gettext: Callable[[str], str], zone: str) -> dict[str, Any]:
    minutes = data["minutes"]
    xs = [display_time(m["minute"], zone)[:16] for m in minutes]
    per_minute = go.Figure()
    per_minute.add_scatter(
        x=xs, y=[m["viewers"] for m in minutes], name=gettext("Viewers"), line_color="#1f6feb"
    )
    per_minute.add_bar(x=xs, y=[m["comments"] for m in minutes], name=gettext("Comments"), yaxis="y2",
                       marker_color="#e4393c", opacity=0.6)  # fmt: skip
    per_minute.update_layout(
        yaxis={"title": gettext("Viewers"), "rangemode": "tozero"},
        yaxis2={"overlaying": "y", "side": "right", "title": gettext("Comments"), "rangemode": "tozero"},
        legend={"orientation": "h"},
    )
    sentiment = go.Figure(
        go.Scatter(x=xs, y=[m["sentiment_index"] for m in minutes], name=gettext("Sentiment over time"),
                   line_color="#e4393c", connectgaps=False)
    )  # fmt: skip
    sentiment.update_layout(yaxis={"range": [-100, 100]})
    return {"per_minute": figure(per_minute), "sentiment": figure(sentiment)}


@router.get("/live", response_class=HTMLResponse)
async def live_page(
    request: Request, session: str = Query("", max_length=128), offset: int = Query(0, ge=0, le=1_000_000)
) -> HTMLResponse:
    session_id = session if re.fullmatch(ID_PATTERN, session) else ""
    wh = request.app.state.warehouse
    zone = request.app.state.settings.timezone
    live = _hub_sessions(request)
    context: dict[str, Any] = {"session_id": session_id, "zone": zone, "mode": "picker"}
    if session_id and session_id not in live:
        try:
            data = await run_in_threadpool(sessions.finished, wh, session_id)
        except NotFound:
            data = None
        if data is not None:
            s = data["summary"]
            context.update(
                mode="finished",
                data=data,
                summary=s,
                alerts=data["alerts"],
                charts=_finished_charts(data, gettext_of(request), zone),
            )
    if context["mode"] == "picker" and session_id:
        context.update(mode="live", js_labels=_js_labels(gettext_of(request)))
    if context["mode"] == "picker":
        listed = await run_in_threadpool(
            sessions.list_sessions, wh, live=live, limit=PICKER_SIZE, offset=offset
        )
        context["older"] = offset + PICKER_SIZE if listed["total"] > offset + PICKER_SIZE else None
        context["newer"] = max(offset - PICKER_SIZE, 0) if offset else None
        context["live_now"] = [i for i in listed["items"] if i["status"] == "live"]
        context["recent"] = [i for i in listed["items"] if i["status"] != "live"]
    return render(request, "live/monitor.html", context)
