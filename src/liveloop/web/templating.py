"""Rendering dashboard pages: the Jinja2 environment, the navigation, labels and Plotly figures.

Figures are embedded as JSON (``<script type="application/json">``) and drawn by ``/static/app.js``
with the Plotly bundle served from the ``plotly`` package, so pages need no CDN and no inline script.
"""

from __future__ import annotations

import itertools
import json
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from liveloop.core.types import Role
from liveloop.privacy.keys import Principal
from liveloop.web.i18n import LANG_COOKIE, pick_lang, translate

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]))
_figure_ids = itertools.count(1)


def lang_of(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def nav_for(request: Request, principal: Principal | None) -> list[dict[str, Any]]:
    """The menu entries the caller's role may see, in ``order``."""
    entries: list[dict[str, Any]] = getattr(request.app.state, "nav", [])
    if principal is None:
        return []
    return [e for e in entries if principal.role == Role.ADMIN or principal.role in e["roles"]]


def figure(fig: Any, *, height: int = 360) -> Markup:
    """A Plotly figure as a placeholder div plus its JSON, drawn client-side by ``app.js``."""
    fig_id = f"fig-{next(_figure_ids)}"
    fig.update_layout(height=height, margin={"l": 48, "r": 16, "t": 32, "b": 40})
    payload = fig.to_json().replace("</", "<\\/")
    return Markup(
        f'<div class="chart" id="{fig_id}" data-figure="{fig_id}-data"></div>'
        f'<script type="application/json" id="{fig_id}-data">{payload}</script>'
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` (which extends ``base.html``) with the shared page context."""
    lang = lang_of(request)
    principal = getattr(request.state, "principal", None)
    signer = request.app.state.session_signer
    from liveloop.http.auth import session_of

    session = session_of(request)
    page = {
        "request": request,
        "lang": lang,
        "t": partial(translate, lang=lang),
        "principal": principal,
        "nav": nav_for(request, principal),
        "current_path": request.url.path,
        "csrf_token": signer.csrf_token(session) if session else "",
        "json": json.dumps,
        "money": request.app.state.settings.money,
    }
    page.update(context or {})
    return HTMLResponse(env.get_template(template).render(page), status_code=status_code)
