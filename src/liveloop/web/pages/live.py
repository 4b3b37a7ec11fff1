"""The Live Monitor page: a session picker (live now, recent), a live room redrawn from its WebSocket, and a
finished session read back from the warehouse (its summary, minutes, questions, products and alerts).

A live room's page is a shell; ``static/live/live.js`` opens ``/v1/live/{session}/stream`` and redraws on
every pushed snapshot. A finished session is rendered here, from ``liveloop.live.sessions``.
"""

from __future__ import annotations

import re
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.clock import display_time
from liveloop.core.errors import NotFound
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.live import sessions
from liveloop.web.i18n import add_messages, translate
from liveloop.web.templating import figure, lang_of, render

ROLES = (Role.HOST, Role.ANALYST, Role.MARKETER)
NAV = {"path": "/live", "zh": "直播监控", "en": "Live Monitor", "order": 40, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
PICKER_SIZE = 20

add_messages(
    {
        "live.title": {"zh": "直播监控", "en": "Live Monitor"},
        "live.session": {"zh": "直播场次", "en": "Live session"},
        "live.watch": {"zh": "查看", "en": "Watch"},
        "live.viewers": {"zh": "在线人数", "en": "Viewers"},
        "live.cpm": {"zh": "每分钟评论", "en": "Comments / min"},
        "live.sentiment": {"zh": "情绪指数 (1分钟)", "en": "Sentiment index (1 min)"},
        "live.gifts": {"zh": "礼物金额 (5分钟)", "en": "Gift value (5 min)"},
        "live.sentiment_line": {"zh": "情绪走势", "en": "Sentiment over time"},
        "live.heat": {"zh": "商品热度 (5分钟)", "en": "Product heat (5 min)"},
        "live.questions": {"zh": "高频问题", "en": "Top questions"},
        "live.advice": {"zh": "下一个讲解商品", "en": "Next product to present"},
        "live.alerts": {"zh": "提醒", "en": "Alerts"},
        "live.points": {"zh": "话术建议", "en": "Talking points"},
        "live.comments": {"zh": "最新评论", "en": "Latest comments"},
        "live.status": {"zh": "连接状态", "en": "Connection"},
        "live.none": {"zh": "暂无", "en": "None yet"},
        "live.waiting": {"zh": "等待开播", "en": "waiting for the session"},
        "live.live_now": {"zh": "正在直播", "en": "Live now"},
        "live.recent": {"zh": "最近场次", "en": "Recent sessions"},
        "live.no_sessions": {"zh": "暂无场次", "en": "No sessions yet"},
        "live.ended": {"zh": "已结束", "en": "Ended"},
        "live.finished": {"zh": "直播复盘", "en": "Session review"},
        "live.start": {"zh": "开始", "en": "Start"},
        "live.end": {"zh": "结束", "en": "End"},
        "live.minutes": {"zh": "时长 (分钟)", "en": "Minutes"},
        "live.gmv": {"zh": "成交额", "en": "GMV"},
        "live.orders": {"zh": "订单数", "en": "Orders"},
        "live.peak_viewers": {"zh": "峰值在线", "en": "Peak viewers"},
        "live.avg_viewers": {"zh": "平均在线", "en": "Average viewers"},
        "live.comment_count": {"zh": "评论数", "en": "Comments"},
        "live.sentiment_avg": {"zh": "平均情绪指数", "en": "Mean sentiment index"},
        "live.per_minute": {"zh": "每分钟在线与评论", "en": "Viewers and comments per minute"},
        "live.asked_by": {"zh": "提问人数", "en": "Asked by"},
        "live.question": {"zh": "问题", "en": "Question"},
        "live.answer": {"zh": "回答", "en": "Answer"},
        "live.to_human": {"zh": "转人工", "en": "to a human"},
        "live.pending": {"zh": "待回答", "en": "pending"},
        "live.product": {"zh": "商品", "en": "Product"},
        "live.clicks": {"zh": "点击", "en": "Clicks"},
        "live.mentions": {"zh": "提及", "en": "Mentions"},
        "live.purchases": {"zh": "购买", "en": "Purchases"},
        "live.units": {"zh": "件数", "en": "Units"},
        "live.gmv_on_stage": {"zh": "讲解时成交额", "en": "GMV while presented"},
        "live.time": {"zh": "时间", "en": "Time"},
        "live.status_col": {"zh": "状态", "en": "Status"},
        "live.title_col": {"zh": "标题", "en": "Title"},
        "live.status.live": {"zh": "直播中", "en": "live"},
        "live.status.ended": {"zh": "已结束", "en": "ended"},
        "live.status.scheduled": {"zh": "未开始", "en": "scheduled"},
        "live.status.open": {"zh": "进行中", "en": "open"},
        "live.times_in": {"zh": "时间均为", "en": "Times in"},
        "live.older": {"zh": "更早的场次", "en": "Older sessions"},
        "live.newer": {"zh": "较新的场次", "en": "Newer sessions"},
    }
)


def _hub_sessions(request: Request) -> list[str]:
    """Sessions open in this process's live hub (none before the first live request)."""
    hub = getattr(request.app.state, "live_hub", None)
    if hub is None:
        return []
    return [k for k, s in hub.sessions.items() if not s.ended]


def _finished_charts(data: dict[str, Any], lang: str, zone: str) -> dict[str, Any]:
    t = lambda key: translate(key, lang)  # noqa: E731
    minutes = data["minutes"]
    xs = [display_time(m["minute"], zone)[:16] for m in minutes]
    per_minute = go.Figure()
    per_minute.add_scatter(
        x=xs, y=[m["viewers"] for m in minutes], name=t("live.viewers"), line_color="#1f6feb"
    )
    per_minute.add_bar(x=xs, y=[m["comments"] for m in minutes], name=t("live.comment_count"), yaxis="y2",
                       marker_color="#e4393c", opacity=0.6)  # fmt: skip
    per_minute.update_layout(
        yaxis={"title": t("live.viewers"), "rangemode": "tozero"},
        yaxis2={"overlaying": "y", "side": "right", "title": t("live.comment_count"), "rangemode": "tozero"},
        legend={"orientation": "h"},
    )
    sentiment = go.Figure(
        go.Scatter(x=xs, y=[m["sentiment_index"] for m in minutes], name=t("live.sentiment_line"),
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
                start=display_time(s["start_ts"], zone),
                end=display_time(s["end_ts"], zone),
                alerts=[{**a, "time": display_time(a["ts"], zone)} for a in data["alerts"]],
                charts=_finished_charts(data, lang_of(request), zone),
            )
    if context["mode"] == "picker" and session_id:
        context["mode"] = "live"
    if context["mode"] == "picker":
        listed = await run_in_threadpool(
            sessions.list_sessions, wh, live=live, limit=PICKER_SIZE, offset=offset
        )
        context["older"] = offset + PICKER_SIZE if listed["total"] > offset + PICKER_SIZE else None
        context["newer"] = max(offset - PICKER_SIZE, 0) if offset else None
        context["live_now"] = [i for i in listed["items"] if i["status"] == "live"]
        context["recent"] = [
            {**i, "start": display_time(i["start_ts"], zone), "end": display_time(i["end_ts"], zone)}
            for i in listed["items"]
            if i["status"] != "live"
        ]
    return render(request, "live/monitor.html", context)
