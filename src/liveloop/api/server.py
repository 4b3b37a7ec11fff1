"""Running the app on uvicorn (one process: the warehouse has one writer)."""

from __future__ import annotations

import uvicorn

from liveloop.api.app import create_app
from liveloop.core.config import Settings, get_settings


def run_server(
    *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info", settings: Settings | None = None
) -> None:
    """Serve until interrupted. The warehouse is opened at start-up and closed on shutdown."""
    app = create_app(settings or get_settings())
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
