"""The Recommendations page: model metrics, the strategy comparison (Table 2), a user's list and reasons."""

from __future__ import annotations

from typing import Annotated

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.recommend.dashboard import page_data
from liveloop.web.templating import figure, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/recommendations", "label": N_("Recommendations"), "order": 40, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


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
                x=[label(r["model"], lang_of(request)) for r in data["holdout"]],
                y=[r["ndcg@10"] for r in data["holdout"]],
                marker_color="#e4393c",
                name="NDCG@10",
            )
        )
        chart = figure(fig, height=300)
    return render(request, "recommend/recommendations.html", {**data, "chart": chart})
