"""The Content page: tonight's script for a session, copy variants per channel for a product, and a
compliance check of any text — every finding highlighted in the text with its rule and fix.

Everything is decided by ``liveloop.content``: the page parses the query, calls one function and renders
what it answers (a clear error next to the form for an unknown id or a bad choice).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.content import copywriting, scripts
from liveloop.content.compliance import check_lines
from liveloop.content.personas import TALKING_POINTS
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.templating import lang_of, render

ROLES = (Role.MARKETER, Role.HOST, Role.ANALYST)
NAV = {"path": "/content", "label": N_("Content"), "order": 47, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
CHANNELS = {
    "title": N_("product title"),
    "push": N_("app push"),
    "sms": N_("SMS"),
    "email": N_("e-mail"),
    "social": N_("social post"),
    "preview": N_("live preview invitation"),
}
MAX_CHECK = 5000


def segments(text: str, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``text`` cut into pieces, each with the finding that covers it (None for plain text)."""
    marks = sorted((f for f in findings if f["severity"] != "pass"), key=lambda f: f["span"][0])
    out: list[dict[str, Any]] = []
    pos = 0
    for f in marks:
        start, end = f["span"]
        if start < pos or end > len(text):
            continue
        if start > pos:
            out.append({"text": text[pos:start], "finding": None})
        out.append({"text": text[start:end], "finding": f})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "finding": None})
    return out


@router.get("/content", response_class=HTMLResponse)
async def content_page(
    request: Request,
    session: Annotated[str, Query(max_length=128)] = "",
    product: Annotated[str, Query(max_length=128)] = "",
    channel: Annotated[str, Query(max_length=16)] = "push",
    persona: Annotated[str, Query(max_length=64)] = "",
    text: Annotated[str, Query(max_length=MAX_CHECK)] = "",
) -> HTMLResponse:
    wh = request.app.state.warehouse
    lang = lang_of(request)
    context: dict[str, Any] = {
        "session_id": session,
        "product_id": product,
        "channel": channel if channel in CHANNELS else "push",
        "persona": persona if persona in TALKING_POINTS else "",
        "text": text,
        "channels": CHANNELS,
        "personas": sorted(TALKING_POINTS),
        "errors": {},
        "segments": segments,
    }
    context["sessions"] = await run_in_threadpool(scripts.pick_sessions, wh)
    if session:
        try:
            context["script"] = await run_in_threadpool(scripts.session_script, wh, session)
        except LiveloopError as exc:
            context["errors"]["session"] = exc.detail
    if product:
        try:
            context["copy"] = await run_in_threadpool(
                copywriting.product_copy,
                wh,
                product,
                context["channel"],
                persona=context["persona"] or None,
                lang=lang,
            )
        except LiveloopError as exc:
            context["errors"]["product"] = exc.detail
    if text.strip():
        lines = [line for line in text.splitlines() if line.strip()][:200]
        context["check"] = await run_in_threadpool(check_lines, lines)
    return render(request, "content/studio.html", context)
