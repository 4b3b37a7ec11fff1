"""Running the app on uvicorn (one process: the warehouse has one writer)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from liveloop.api.app import create_app
from liveloop.core.config import Settings, get_settings
from liveloop.warehouse import Warehouse


def run_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    log_level: str = "info",
    settings: Settings | None = None,
    configure: Callable[[FastAPI], None] | None = None,
) -> None:
    """Serve until interrupted. The warehouse is opened first (a held one is a one-line error, not a
    failed start-up) and closed on shutdown; ``configure`` gets the app before it starts."""
    settings = settings or get_settings()
    with Warehouse.open(settings) as wh:
        app = create_app(settings, warehouse=wh)
        if configure is not None:
            configure(app)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            workers=1,
            timeout_keep_alive=20,
            limit_concurrency=2048,
            backlog=2048,
            server_header=False,
        )
