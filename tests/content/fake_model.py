"""A real uvicorn server on a free 127.0.0.1 port in a background thread: the stand-in for a hosted
language model (the only fake the content tests use, at the HTTP boundary)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI


def completion(content: Any) -> dict[str, Any]:
    """An OpenAI-compatible chat completion answering ``content``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app``; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the fake model server did not start")
        time.sleep(0.02)
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
