"""The results of the header's search box: users (id or phone), products and live sessions, as links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.catalog import search
from liveloop.core.errors import ValidationFailed
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.templating import render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = None
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    context: dict[str, Any] = {"search_text": q, "results": None, "error": None}
    try:
        results = await run_in_threadpool(
            search, request.app.state.warehouse, q, request.app.state.cipher, 20
        )
    except ValidationFailed as exc:
        context["error"] = exc.detail
    else:
        if request.state.principal.role == Role.HOST:  # hosts see no user directory
            results["users"] = []
        context["results"] = results
    return render(request, "search.html", context, status_code=422 if context["error"] else 200)
