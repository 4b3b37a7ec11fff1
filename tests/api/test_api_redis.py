"""Shared state in a real Redis (``redis-server`` from Debian, started here): the failed-key limiter counts
one address's failures on every server that shares it, an Idempotency-Key response outlives a restart,
Redis down at start is one line, Redis lost mid-run is a 503 with the reason (``/ready`` says so) and
recovers when it returns."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REDIS = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throw-away ``redis-server`` on 127.0.0.1 (no persistence)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS, "redis-server is not installed: `make` installs it (Debian package redis-server)"
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(_free_port())
    server.start()
    yield server
    server.stop()


def _event(i: int) -> dict[str, Any]:
    return {"event_id": f"idem-{i}", "user_id": "u1", "type": "view", "ts": "2026-11-01T08:00:00+08:00"}


def test_failed_keys_on_one_server_count_on_another(
    redis_server: RedisServer, live_server_factory: Callable[..., Any]
) -> None:
    env = {"LIVELOOP_REDIS_URL": redis_server.url, "LIVELOOP_AUTH_MAX_FAILURES": "5"}
    first, second = live_server_factory(env=env), live_server_factory(env=env)
    for i in range(5):
        r = httpx.get(
            f"{first.base_url}/v1/audiences", headers={"X-API-Key": f"ll_guess.secret{i}"}, timeout=10
        )
        assert r.status_code == 401
    r = httpx.get(f"{second.base_url}/v1/audiences", headers={"X-API-Key": "ll_guess.again"}, timeout=10)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # the other server's failures count
    assert second.client("admin").get("/v1/audiences").status_code == 200  # a known key: cached, not refused


def test_an_idempotent_write_is_replayed_after_a_restart(
    redis_server: RedisServer, live_server_factory: Callable[..., Any]
) -> None:
    srv = live_server_factory(env={"LIVELOOP_REDIS_URL": redis_server.url})
    headers = {**srv.headers("admin"), "Idempotency-Key": "order-42"}
    first = httpx.post(f"{srv.base_url}/v1/events", json={"events": [_event(1)]}, headers=headers, timeout=20)
    assert first.status_code in (200, 202), first.text
    srv.stop()
    srv.start()  # its memory is gone; Redis keeps the response
    again = httpx.post(f"{srv.base_url}/v1/events", json={"events": [_event(1)]}, headers=headers, timeout=20)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    other = httpx.post(f"{srv.base_url}/v1/events", json={"events": [_event(2)]}, headers=headers, timeout=20)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"


def test_redis_lost_mid_run_is_a_503_with_the_reason_and_recovers(
    redis_server: RedisServer, live_server_factory: Callable[..., Any]
) -> None:
    srv = live_server_factory(env={"LIVELOOP_REDIS_URL": redis_server.url})
    headers = {**srv.headers("admin"), "Idempotency-Key": "k-lost"}
    assert srv.client("admin").get("/v1/audiences").status_code == 200  # the key is known (cached) now
    ready = httpx.get(f"{srv.base_url}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] == {"ok": True}
    redis_server.stop()
    ready = httpx.get(f"{srv.base_url}/ready", timeout=10)
    assert ready.status_code == 503 and "Redis is not reachable" in ready.json()["checks"]["redis"]["reason"]
    assert ready.json()["checks"]["writer"]["ok"]
    started = time.monotonic()
    r = httpx.post(f"{srv.base_url}/v1/events", json={"events": [_event(3)]}, headers=headers, timeout=20)
    assert r.status_code == 503 and time.monotonic() - started < 5  # fails fast
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Redis" in r.json()["detail"] and r.headers["Retry-After"] == "1"
    assert srv.client("admin").get("/v1/audiences").status_code == 200  # needs no shared state: works
    unknown = httpx.get(f"{srv.base_url}/v1/audiences", headers={"X-API-Key": "ll_new.key"}, timeout=10)
    assert unknown.status_code == 503  # a key never seen needs the shared failure count: no guess unchecked
    redis_server.start()
    assert httpx.get(f"{srv.base_url}/ready", timeout=10).status_code == 200
    r = httpx.post(f"{srv.base_url}/v1/events", json={"events": [_event(3)]}, headers=headers, timeout=20)
    assert r.status_code in (200, 202), r.text


def test_serve_with_redis_down_is_one_line(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "LIVELOOP_HOME": str(tmp_path / "home"),
        "LIVELOOP_REDIS_URL": f"redis://:secret@127.0.0.1:{port}/0",
    }
    out = subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"Redis at 127.0.0.1:{port} is not reachable" in lines[0], out.stderr
    assert "secret" not in out.stderr and "Traceback" not in out.stderr
