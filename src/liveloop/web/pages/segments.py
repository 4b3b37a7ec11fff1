"""The Segments page: sizes, centroid radar, value by segment, top categories (from liveloop.profiles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.profiles import list_segments
from liveloop.profiles.service import segment_radar
from liveloop.web.export import table_response
from liveloop.web.templating import figure, gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/segments", "label": N_("Segments"), "order": 30, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


def _label(seg: dict[str, Any], lang: str) -> str:
    return f"{seg['segment_id']} {seg['name_zh'] if lang == 'zh' else seg['name_en']}"


def _charts(segments: list[dict[str, Any]], lang: str, gettext: Callable[[str], str]) -> dict[str, Any]:
    labels = [_label(s, lang) for s in segments]
    sizes = go.Figure(
        go.Bar(x=labels, y=[s["size"] for s in segments], marker_color="#e4393c", name=gettext("Users"))
    )
    value = go.Figure(
        go.Bar(
            x=labels,
            y=[(s["stats"] or {}).get("monetary_mean", 0.0) for s in segments],
            marker_color="#1f6feb",
            name=gettext("Spend per user"),
        )
    )
    features, radar = segment_radar(segments)
    names = [label(f, lang) for f in features]
    polar = go.Figure()
    for seg, seg_label in zip(segments, labels, strict=True):
        values = radar.get(seg["segment_id"], [])
        polar.add_trace(
            go.Scatterpolar(
                r=[*values, values[0]] if values else [],
                theta=[*names, names[0]] if names else [],
                name=seg_label,
                fill="toself",
                opacity=0.5,
            )
        )
    polar.update_layout(polar={"radialaxis": {"visible": True}}, legend={"orientation": "h"})
    return {"sizes": figure(sizes), "value": figure(value), "radar": figure(polar, height=480)}


@router.get("/segments", response_class=HTMLResponse)
async def segments_page(
    request: Request, export: Annotated[str | None, Query(max_length=8)] = None
) -> Response:
    segments = await run_in_threadpool(list_segments, request.app.state.warehouse)
    if export:
        return table_response(segments, "liveloop-segments", export)
    lang = lang_of(request)
    return render(
        request,
        "profiles/segments.html",
        {"segments": segments, "charts": _charts(segments, lang, gettext_of(request)) if segments else None},
    )
