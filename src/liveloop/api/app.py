"""The FastAPI application factory. Routers are discovered in ``liveloop.api.routes``."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from liveloop.core.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="liveloop", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.settings = settings
    from liveloop.api import routes

    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    return app
