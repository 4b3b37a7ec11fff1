"""Rendering dashboard pages: the Jinja2 environments (one per language), the navigation and Plotly figures.

Figures are embedded as JSON (``<script type="application/json">``) and drawn by ``/static/app.js``
with the Plotly bundle served from the ``plotly`` package, so pages need no CDN and no inline script.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from liveloop.core.types import Role
from liveloop.privacy.keys import Principal
from liveloop.web.i18n import LANG_COOKIE, LANGS, data_window, gettext_for, number, percent, pick_lang, when
from liveloop.web.vocab import label, label_or_data, tag_label

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _environment(lang: str) -> Environment:
    """One Jinja2 environment per language, with that language's catalogue installed (``_``,
    ``{% trans %}``) and the locale's number, percent and slug filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(gettext_for(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=partial(_number, lang=lang),
        percent=partial(percent, lang=lang),
        label=partial(label, lang=lang),
        tag_label=partial(tag_label, lang=lang),
        label_or_data=partial(label_or_data, lang=lang),
        tr=gettext_for(lang).gettext,  # a marked string that came as data (no %-formatting)
    )
    return env


def _number(value: Any, digits: int = 0, *, lang: str) -> str:
    return number(value, lang, digits)


_envs = {lang: _environment(lang) for lang in LANGS}
_figure_ids = itertools.count(1)


def lang_of(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def gettext_of(request: Request) -> Callable[[str], str]:
    """The request's ``gettext``, for strings a page builds in Python (chart legends and axes)."""
    return gettext_for(lang_of(request)).gettext


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
        "when": partial(when, lang=lang, zone=request.app.state.settings.timezone),
        "data_window": partial(data_window, lang=lang, zone=request.app.state.settings.timezone),
        "principal": principal,
        "nav": nav_for(request, principal),
        "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "csrf_token": signer.csrf_token(session) if session else "",
        "json": json.dumps,
        "money": request.app.state.settings.money,
    }
    page.update(context or {})
    return HTMLResponse(_envs[lang].get_template(template).render(page), status_code=status_code)
