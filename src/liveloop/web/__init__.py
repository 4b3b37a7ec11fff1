"""Web dashboard: Jinja2 pages with offline Plotly; pages under ``liveloop.web.pages``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles


def mount_dashboard(app: FastAPI) -> None:
    """Add the login routes, every page module and the static files (served from the package)."""
    import plotly
    from swagger_ui_bundle import swagger_ui_path

    from liveloop.web import login
    from liveloop.web.pages import discover
    from liveloop.web.templating import STATIC_DIR

    app.include_router(login.router)
    nav: list[dict[str, Any]] = []
    for module in discover():
        app.include_router(module.router)
        entry = getattr(module, "NAV", None)
        if entry:
            nav.append({**entry, "roles": frozenset(entry.get("roles", ()))})
    app.state.nav = sorted(nav, key=lambda e: (e.get("order", 100), e["path"]))

    plotly_js = f"{plotly.__path__[0]}/package_data/plotly.min.js"

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> FileResponse:
        return FileResponse(
            plotly_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
