"""A 500 carries the same security headers as every other response (it is rendered outside them)."""

from __future__ import annotations

import json
import socket

import httpx
from fastapi.testclient import TestClient

from liveloop.core.config import Settings
from liveloop.server import create_app


def test_an_unexpected_error_is_a_problem_with_security_headers(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
        ok = client.get("/health")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert "a bug" not in r.text
    for name in ("x-content-type-options", "x-frame-options", "content-security-policy"):
        assert r.headers.get(name), name
    assert ok.headers["x-content-type-options"] == "nosniff"


def _send(server, data: bytes, chunk: int = 1 << 16) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            for i in range(0, len(data), chunk):
                sock.sendall(data[i : i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole head was read: what matters is the answer below
        out = b""
        try:
            while chunk_in := sock.recv(65536):
                out += chunk_in
        except ConnectionResetError:
            pass
        return out


def test_an_oversized_request_head_is_refused_with_431_before_it_is_read(server) -> None:
    huge = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (8 << 20) + b"\r\n\r\n"  # 8 MiB, no key
    answer = _send(server, huge)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431") and b"application/problem+json" in head
    assert json.loads(body)["field"] == "headers"
    many = (
        b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(20000)) + b"\r\n"
    )
    assert _send(server, many).startswith(b"HTTP/1.1 431")
    big_body = json.dumps(
        {"events": [{"event_id": "x" * 40, "type": "view"}] * 3000}
    ).encode()  # a 200 KB body is fine
    headers = {**server.headers("ingest"), "Content-Type": "application/json"}
    assert (
        httpx.post(f"{server.base_url}/v1/events", content=big_body, headers=headers, timeout=60).status_code
        != 431
    )
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200  # still serving
