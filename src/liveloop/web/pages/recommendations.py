"""The Recommendations page: model metrics, the strategy comparison (Table 2), a user's list and reasons."""

from __future__ import annotations

from typing import Annotated

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.recommend.dashboard import page_data
from liveloop.web.i18n import add_messages
from liveloop.web.templating import figure, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/recommendations", "zh": "推荐", "en": "Recommendations", "order": 40, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])

add_messages(
    {
        "rec.title": {"zh": "个性化推荐", "en": "Recommendations"},
        "rec.model": {"zh": "当前模型", "en": "Active model"},
        "rec.none": {
            "zh": "尚未训练模型：运行 liveloop recommend train",
            "en": "No model yet: run liveloop recommend train",
        },
        "rec.holdout": {"zh": "时间切分留出集指标", "en": "Hold-out metrics (time split)"},
        "rec.strategies": {
            "zh": "策略对比（模拟 A/B 测试）",
            "en": "Strategy comparison (simulated A/B test)",
        },
        "rec.no_strategies": {
            "zh": "运行 liveloop evaluate strategies 生成",
            "en": "Run liveloop evaluate strategies",
        },
        "rec.user": {"zh": "查看用户推荐", "en": "A user's list"},
        "rec.show": {"zh": "查看", "en": "Show"},
        "rec.reason": {"zh": "推荐理由", "en": "Reason"},
        "rec.versions": {"zh": "模型版本", "en": "Model versions"},
    }
)


@router.get("/recommendations", response_class=HTMLResponse)
async def recommendations_page(
    request: Request,
    user: Annotated[str | None, Query(max_length=128, pattern=ID_PATTERN)] = None,
) -> HTMLResponse:
    data = await run_in_threadpool(
        page_data, request.app.state.warehouse, request.app.state.settings.home, user
    )
    chart = None
    if data["holdout"]:
        fig = go.Figure(
            go.Bar(
                x=[r["model"] for r in data["holdout"]],
                y=[r["ndcg@10"] for r in data["holdout"]],
                marker_color="#e4393c",
                name="NDCG@10",
            )
        )
        chart = figure(fig, height=300)
    return render(request, "recommend/recommendations.html", {**data, "chart": chart})
