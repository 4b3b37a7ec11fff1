"""API keys sent in a query string (WebSocket clients may) never reach the server's log lines."""

from __future__ import annotations

import io
import logging

from liveloop.core.config import Settings
from liveloop.server import create_app

KEY = "ll_0123456789ab.s3cr3t-Value_xyz"


def test_uvicorn_request_lines_mask_api_keys(settings: Settings) -> None:
    create_app(settings)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    loggers = [logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        # the calls uvicorn makes for an HTTP request line and for an accepted WebSocket
        loggers[0].info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/v1/live/room1/state?api_key={KEY}&x=1",
            "1.1",
            200,
        )
        loggers[1].info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:5001", f"/v1/live/room1/stream?api_key={KEY}"
        )
        loggers[1].info(f"unparsed line /stream?token={KEY} ends")
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    logged = out.getvalue()
    assert "s3cr3t" not in logged and KEY not in logged
    assert logged.count("api_key=***") == 2 and "token=***" in logged and "&x=1" in logged
