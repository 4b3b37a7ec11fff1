"""The User 360 page: a user's profile, event timeline and predictions, with tag removal."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.profiles import (
    UserQuery,
    list_segments,
    list_users,
    remove_tag,
    similar_users,
    user_profile,
    user_timeline,
)
from liveloop.profiles.tags import LIFECYCLE_NAMES, VALUE_TIERS
from liveloop.web.i18n import add_messages, translate
from liveloop.web.templating import figure, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/users", "zh": "用户360", "en": "User 360", "order": 35, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])

add_messages(
    {
        "users.title": {"zh": "用户360", "en": "User 360"},
        "users.lookup": {"zh": "查询用户", "en": "Look up a user"},
        "users.go": {"zh": "查看", "en": "Show"},
        "users.profile": {"zh": "画像", "en": "Profile"},
        "users.predictions": {"zh": "预测", "en": "Predictions"},
        "users.timeline": {"zh": "行为时间线", "en": "Event timeline"},
        "users.tags": {"zh": "兴趣标签", "en": "Interest tags"},
        "users.remove": {"zh": "移除", "en": "Remove"},
        "users.hours": {"zh": "活跃时段", "en": "Active hours"},
        "users.segment": {"zh": "分群", "en": "Segment"},
        "users.lifecycle": {"zh": "生命周期", "en": "Lifecycle"},
        "users.value_tier": {"zh": "价值层级", "en": "Value tier"},
        "users.why": {"zh": "说明", "en": "Why"},
        "users.not_found": {"zh": "未找到该用户的画像", "en": "No profile for this user"},
        "users.interest": {"zh": "实时兴趣（下一个品类）", "en": "Real-time interest (next categories)"},
        "users.similar": {"zh": "相似用户", "en": "Similar users"},
        "users.similarity": {"zh": "相似度", "en": "Similarity"},
        "users.directory": {"zh": "用户列表", "en": "Users"},
        "users.search": {"zh": "用户ID或手机号", "en": "User id or phone"},
        "users.filter": {"zh": "筛选", "en": "Filter"},
        "users.any": {"zh": "全部", "en": "Any"},
        "users.spend": {"zh": "消费金额", "en": "Spend"},
        "users.purchases": {"zh": "购买次数", "en": "Purchases"},
        "users.top_category": {"zh": "偏好品类", "en": "Top category"},
        "users.count": {
            "zh": "共 {total} 位用户，第 {first}–{last} 位",
            "en": "{first}–{last} of {total} users",
        },
        "users.none": {"zh": "没有符合条件的用户", "en": "No user matches"},
        "users.next": {"zh": "下一页", "en": "Next page"},
        "users.previous": {"zh": "上一页", "en": "Previous page"},
        "tier.high": {"zh": "高", "en": "high"},
        "tier.medium": {"zh": "中", "en": "medium"},
        "tier.low": {"zh": "低", "en": "low"},
        "tier.none": {"zh": "无消费", "en": "none"},
    }
)
PAGE = 50


def _hours_chart(profile: dict[str, Any], lang: str) -> Any:
    hours = profile.get("active_hours") or [0.0] * 24
    fig = go.Figure(
        go.Bar(x=list(range(24)), y=hours, marker_color="#e4393c", name=translate("users.hours", lang))
    )
    fig.update_layout(xaxis={"title": "hour", "dtick": 2})
    return figure(fig, height=260)


@router.get("/users", response_class=HTMLResponse)
async def users_page(
    request: Request,
    user_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,  # "" from the form's "any"
    lifecycle: Annotated[str | None, Query(max_length=32)] = None,
    value_tier: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    wh = request.app.state.warehouse
    context: dict[str, Any] = {
        "user_id": user_id,
        "profile": None,
        "timeline": [],
        "similar": None,
        "error": None,
        "directory": None,
    }
    if not user_id:  # the directory: find a user by segment, stage, tier, id or phone
        query = UserQuery(segment or None, lifecycle or None, value_tier or None, q, PAGE, offset)
        try:
            page = await run_in_threadpool(list_users, wh, query, request.app.state.cipher)
        except ValidationFailed as exc:
            context["error"] = exc.detail
        else:
            filters = {"segment": segment, "lifecycle": lifecycle, "value_tier": value_tier, "q": q}
            context["directory"] = page | {
                "filters": filters,
                "query": urlencode({k: v for k, v in filters.items() if v}),
                "segments": await run_in_threadpool(list_segments, wh),
                "stages": LIFECYCLE_NAMES,
                "tiers": VALUE_TIERS,
            }
        return render(request, "profiles/users.html", context, status_code=422 if context["error"] else 200)
    try:
        profile = await run_in_threadpool(user_profile, wh, user_id)
        context.update(
            profile=profile,
            timeline=await run_in_threadpool(user_timeline, wh, user_id),
            similar=await run_in_threadpool(similar_users, wh, user_id, 8),
            hours=_hours_chart(profile, lang_of(request)),
        )
    except NotFound as exc:
        context["error"] = exc.detail
    return render(request, "profiles/users.html", context, status_code=404 if context["error"] else 200)


@router.post("/users/{user_id}/tags/remove")
async def remove_tag_form(
    request: Request, user_id: str, tag: Annotated[str, Form(max_length=200)]
) -> RedirectResponse:
    await run_in_threadpool(remove_tag, request.app.state.warehouse, user_id, tag, "dashboard")
    return RedirectResponse(f"/users?user_id={user_id}", status_code=303)
