"""A 500 carries the same security headers as every other response (it is rendered outside them)."""

from __future__ import annotations

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
