"""``liveloop serve`` as a benchmark's subprocess: started on a free port, waited for, stopped after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from liveloop.core.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    settings: Settings, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The server on ``settings``'s home (with its secret key) once healthy: (process, base URL)."""
    port = free_port()
    env = {**os.environ, "LIVELOOP_HOME": str(settings.home), **(extra_env or {})}
    if settings.secret_key:
        env["LIVELOOP_SECRET_KEY"] = settings.secret_key
    cmd = [sys.executable, "-m", "liveloop.cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(60)


def read_users(
    base: str, key: str, users: int, stop: threading.Event, reads: list[tuple[float, float]]
) -> None:
    """Read users ``u0000000``… one after another until ``stop``: (start, seconds) per read in ``reads``."""
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as client:
        i = 0
        while not stop.is_set():
            i += 1
            t = time.perf_counter()
            client.get(f"/v1/users/u{(i * 7919) % users:07d}").raise_for_status()
            reads.append((t, time.perf_counter() - t))
