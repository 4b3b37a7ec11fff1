"""The User 360 page: a user's profile, event timeline and predictions, with tag removal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.privacy import consent
from liveloop.privacy.audit import decisions
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
from liveloop.web.templating import figure, gettext_of, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/users", "label": N_("User 360"), "order": 35, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])

PAGE = 50

#: What a bad directory filter says on the page (by the field the capability names).
FILTER_ERRORS = {
    "lifecycle": N_("Unknown lifecycle stage “%(value)s”: choose one from the list."),
    "value_tier": N_("Unknown value tier “%(value)s”: choose one from the list."),
    "limit": N_("The page size is out of range."),
    "offset": N_("The page offset is out of range."),
}


def _hours_chart(profile: dict[str, Any], gettext: Callable[[str], str]) -> Any:
    hours = profile.get("active_hours") or [0.0] * 24
    fig = go.Figure(go.Bar(x=list(range(24)), y=hours, marker_color="#e4393c", name=gettext("Active hours")))
    fig.update_layout(xaxis={"title": gettext("Hour of the day"), "dtick": 2})
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
        except ValidationFailed as exc:  # the page's language; the capability's English detail on the API
            given = {"lifecycle": lifecycle, "value_tier": value_tier}.get(exc.field or "") or ""
            message = gettext_of(request)(FILTER_ERRORS.get(exc.field or "", N_("Check the filters.")))
            context["error"] = message.replace("%(value)s", given)
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
            hours=_hours_chart(profile, gettext_of(request)),
        )
    except NotFound as exc:
        refused = "refused profiling" in str(exc)
        why = (
            N_("the user refused profiling: no profile is built")
            if refused
            else N_("there is no user with this id")
        )
        context["error"] = gettext_of(request)(why)
    context["rights"] = await run_in_threadpool(_rights, request, user_id)
    missing = context["error"] and not context["rights"]["known"]
    return render(request, "profiles/users.html", context, status_code=404 if missing else 200)


def _rights(request: Request, user_id: str) -> dict[str, Any]:
    """What the user allows (consents) and the automated decisions about them, in the page's language."""
    wh = request.app.state.warehouse
    served = getattr(request.app.state, "recommend", None)
    if served is not None:  # lists served a moment ago may still wait in the audit buffer
        served.flush_audit()
    lang = lang_of(request)
    found = consent.of_user(wh, user_id)
    made = decisions(wh, user_id, lang=lang, limit=50)
    known = wh.sql("SELECT count(*) FROM users WHERE user_id = ?", [user_id])[0][0] > 0
    return {"consents": found, "decisions": made, "known": known or bool(found["history"] or made)}


@router.post("/users/{user_id}/tags/remove")
async def remove_tag_form(
    request: Request, user_id: str, tag: Annotated[str, Form(max_length=200)]
) -> RedirectResponse:
    await run_in_threadpool(remove_tag, request.app.state.warehouse, user_id, tag, "dashboard")
    return RedirectResponse(f"/users?user_id={user_id}", status_code=303)
