"""Dashboard pages: one module per page, discovered at start-up.

The page-plugin contract
------------------------
A module ``liveloop/web/pages/<name>.py`` exposes:

``router``
    A FastAPI ``APIRouter`` serving the page (HTML) and any form posts. Every route declares its roles
    exactly like an API route: ``dependencies=[Depends(require_roles(Role.ANALYST, ...))]`` from
    ``liveloop.http.auth`` (admin is always allowed). A browser without a session is redirected to
    ``/login``. Forms must include ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``;
    ``require_roles`` rejects a state-changing request from a session without it (403).
``NAV``
    ``dict(path="/segments", label=N_("Segments"), order=30, roles=(Role.ANALYST, Role.MARKETER))``
    — the menu entry built by ``base.html``; ``roles`` decides who sees it, ``order`` its place
    (Overview is 10). A module may set ``NAV = None`` to serve routes without a menu entry.

Render with ``liveloop.web.templating.render(request, "<name>.html", {...})``; the template
``{% extends "base.html" %}`` and fills ``{% block content %}``. Strings are English, translated by the
catalogue (docs/dashboard.md): ``{{ _("Top products") }}`` in templates, ``gettext_of(request)(...)`` for
chart legends, ``N_`` (``liveloop.core.i18n``) for a menu label; ``label``, ``number``, ``percent`` and
``when(...)`` format slugs, numbers and times for the page's locale. Context always has ``lang``,
``principal``, ``csrf_token``. Charts: pass ``figure(plotly_fig)`` from ``liveloop.web.templating``
and write ``{{ chart }}`` — Plotly is served locally, never from a CDN. Page queries belong in the
capability package (e.g. ``liveloop.analytics``), never in the page module. Live updates open a
WebSocket to a route in ``liveloop.api.routes``; put page scripts in ``web/static/`` (no inline
``<script>`` code: the Content-Security-Policy only allows scripts served by liveloop).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    """Every page module, in name order."""
    from liveloop.web import pages

    return [
        importlib.import_module(f"{pages.__name__}.{m.name}")
        for m in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name)
    ]
