"""The Segments page: sizes, centroid radar, value by segment, top categories (from liveloop.profiles)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.profiles import list_segments
from liveloop.profiles.service import segment_radar
from liveloop.web.i18n import add_messages, translate
from liveloop.web.templating import figure, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/segments", "zh": "用户分群", "en": "Segments", "order": 30, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])

add_messages(
    {
        "segments.title": {"zh": "用户分群", "en": "Segments"},
        "segments.sizes": {"zh": "分群规模", "en": "Segment sizes"},
        "segments.radar": {"zh": "分群特征雷达（相对平均）", "en": "Centroid radar (vs average)"},
        "segments.value": {"zh": "人均消费", "en": "Spend per user"},
        "segments.users": {"zh": "用户数", "en": "Users"},
        "segments.name": {"zh": "名称", "en": "Name"},
        "segments.description": {"zh": "描述", "en": "Description"},
        "segments.top_categories": {"zh": "热门品类", "en": "Top categories"},
        "segments.channels": {"zh": "偏好触达渠道", "en": "Preferred channels (messages)"},
        "segments.no_channel_data": {
            "zh": "无触达数据（未向该群发送消息）",
            "en": "no channel data (no messages sent)",
        },
        "segments.no_prices": {"zh": "无价格数据", "en": "no price data"},
        "segments.shopping": {"zh": "购物渠道", "en": "Shopping channels"},
        "segments.hours": {"zh": "活跃时段", "en": "Peak hours"},
        "segments.empty": {
            "zh": "尚无分群：请运行 liveloop profiles build",
            "en": "No segments yet: run `liveloop profiles build`",
        },
    }
)


def _label(seg: dict[str, Any], lang: str) -> str:
    return f"{seg['segment_id']} {seg['name_zh'] if lang == 'zh' else seg['name_en']}"


def _charts(segments: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    t = lambda key: translate(key, lang)  # noqa: E731
    labels = [_label(s, lang) for s in segments]
    sizes = go.Figure(
        go.Bar(x=labels, y=[s["size"] for s in segments], marker_color="#e4393c", name=t("segments.users"))
    )
    value = go.Figure(
        go.Bar(
            x=labels,
            y=[(s["stats"] or {}).get("monetary_mean", 0.0) for s in segments],
            marker_color="#1f6feb",
            name=t("segments.value"),
        )
    )
    features, radar = segment_radar(segments)
    polar = go.Figure()
    for seg, label in zip(segments, labels, strict=True):
        values = radar.get(seg["segment_id"], [])
        polar.add_trace(
            go.Scatterpolar(
                r=[*values, values[0]] if values else [],
                theta=[*features, features[0]] if features else [],
                name=label,
                fill="toself",
                opacity=0.5,
            )
        )
    polar.update_layout(polar={"radialaxis": {"visible": True}}, legend={"orientation": "h"})
    return {"sizes": figure(sizes), "value": figure(value), "radar": figure(polar, height=480)}


@router.get("/segments", response_class=HTMLResponse)
async def segments_page(request: Request) -> HTMLResponse:
    segments = await run_in_threadpool(list_segments, request.app.state.warehouse)
    lang = lang_of(request)
    return render(
        request,
        "profiles/segments.html",
        {"segments": segments, "charts": _charts(segments, lang) if segments else None},
    )
