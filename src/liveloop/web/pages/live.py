"""The Live Monitor page: a live room's viewers, sentiment, product heat, questions, advice and alerts.

The page is a shell; ``static/live/live.js`` opens the WebSocket ``/v1/live/{session}/stream`` and
redraws on every pushed snapshot (the data come from ``liveloop.live`` through the API).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from liveloop.api.auth import require_roles
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.web.i18n import add_messages
from liveloop.web.templating import render

ROLES = (Role.HOST, Role.ANALYST, Role.MARKETER)
NAV = {"path": "/live", "zh": "直播监控", "en": "Live Monitor", "order": 40, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])

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
    }
)


@router.get("/live", response_class=HTMLResponse)
async def live_page(request: Request, session: str = Query("", max_length=128)) -> HTMLResponse:
    import re

    session_id = session if re.match(ID_PATTERN, session) else ""
    return render(request, "live/monitor.html", {"session_id": session_id})
