"""The service over HTTP on loopback: event ingestion and user look-ups, each beside its floor.

- Ingestion: batches of 500 events, one server worker, one client posting back to back (and 4 clients),
  against the same ingestion done in-process with ``ingest_records`` (no HTTP): the HTTP overhead.
- ``GET /v1/users/{id}`` at 200 concurrent connections (httpx async), against ``GET /health`` at the
  same concurrency (the floor: auth-free, no warehouse) and the in-process ``get_entity`` call.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks.machine import machine
from liveloop.core.config import Settings
from liveloop.ingest import ingest_records
from liveloop.privacy.crypto import generate_key
from liveloop.privacy.keys import create_key
from liveloop.warehouse import Warehouse
from liveloop.warehouse.entities import get_entity

BATCH = 500
BATCHES = int(os.environ.get("BENCH_API_BATCHES", "48"))
USERS = 5000
CONCURRENCY = 200
LOOKUPS = int(os.environ.get("BENCH_API_LOOKUPS", "8000"))


def _events(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{tag}-{i}",
            "ts": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00+08:00",
            "user_id": f"u{i % USERS}",
            "type": ("view", "click", "add_to_cart", "purchase")[i % 4],
            "product_id": f"p{i % 300}",
            "amount": "59.00" if i % 4 == 3 else None,
            "channel": "live",
        }
        for i in range(n)
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(settings: Settings) -> tuple[str, str, str]:
    with Warehouse.open(settings) as wh:
        users = [
            {"user_id": f"u{i}", "region": "浙江", "city_tier": 1 + i % 5, "phone": f"138{i:08d}"}
            for i in range(USERS)
        ]
        ingest_records(wh, "users", users, source="bench")
        return (
            create_key(wh, "admin", "bench").key,
            create_key(wh, "ingest", "bench").key,
            create_key(wh, "analyst", "bench").key,
        )


def _in_process(settings: Settings) -> dict[str, float]:
    """The same work without HTTP: ingest_records on batches of 500, get_entity point look-ups."""
    with Warehouse.open(settings) as wh:
        latencies = []
        start = time.perf_counter()
        for b in range(BATCHES // 3):
            t0 = time.perf_counter()
            ingest_records(wh, "events", _events(BATCH, f"inproc{b}"), source="bench")
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        lookups = []
        for i in range(2000):
            t0 = time.perf_counter()
            get_entity(wh, "users", f"u{i % USERS}")
            lookups.append(time.perf_counter() - t0)
    return {
        "events_per_s": len(latencies) * BATCH / elapsed,
        "batch_p50_ms": _pct(latencies, 0.5) * 1e3,
        "batch_p99_ms": _pct(latencies, 0.99) * 1e3,
        "get_user_p50_ms": _pct(lookups, 0.5) * 1e3,
        "get_user_p99_ms": _pct(lookups, 0.99) * 1e3,
    }


def _ingest_http(base: str, key: str, clients: int, tag: str) -> dict[str, float]:
    batches = [_events(BATCH, f"{tag}{b}") for b in range(BATCHES)]
    latencies: list[float] = []

    def worker(part: list[list[dict[str, Any]]]) -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as client:
            for batch in part:
                t0 = time.perf_counter()
                resp = client.post("/v1/events", json={"events": batch})
                latencies.append(time.perf_counter() - t0)
                assert resp.status_code == 200 and resp.json()["accepted"] == BATCH, resp.text[:200]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [batches[i::clients] for i in range(clients)]))
    elapsed = time.perf_counter() - start
    return {
        "events_per_s": BATCHES * BATCH / elapsed,
        "batch_p50_ms": _pct(latencies, 0.5) * 1e3,
        "batch_p99_ms": _pct(latencies, 0.99) * 1e3,
        "clients": clients,
    }


async def _hammer(base: str, path_of: Any, headers: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    per_worker = LOOKUPS // CONCURRENCY
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def worker(w: int) -> None:
            for i in range(per_worker):
                t0 = time.perf_counter()
                try:
                    resp = await client.get(path_of(w * per_worker + i))
                except httpx.TransportError:
                    errors.append(1)
                    continue
                latencies.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    errors.append(resp.status_code)

        await asyncio.gather(*(worker(0) for _ in range(4)))  # warm the connections and the key cache
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": _pct(latencies, 0.5) * 1e3,
        "p99_ms": _pct(latencies, 0.99) * 1e3,
        "concurrency": CONCURRENCY,
        "requests": len(latencies),
        "errors": len(errors),
    }


_WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format(PATH, counter % USERS))
end
"""


def _wrk(
    base: str, path: str, headers: dict[str, str], tmp: Path, seconds: int = 10
) -> dict[str, float] | None:
    """The same load with ``wrk`` (a C load generator, so the client is not the bottleneck), if installed."""
    if shutil.which("wrk") is None:
        return None
    script = tmp / "wrk.lua"
    script.write_text(_WRK_SCRIPT.replace("PATH", repr(path)).replace("USERS", str(USERS)))
    args = [
        "wrk",
        "-t2",
        f"-c{CONCURRENCY}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, base], capture_output=True, text=True, timeout=seconds + 60).stdout

    def ms(label: str) -> float:
        value = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not value:
            return float("nan")
        return float(value.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[value.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(rate.group(1)) if rate else float("nan"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "concurrency": CONCURRENCY,
    }


def _lat(r: dict[str, Any], p50: str = "p50_ms", p99: str = "p99_ms") -> str:
    return f"p50 {r[p50]:.1f} ms, p99 {r[p99]:.1f} ms"


def _report(r: dict[str, Any]) -> None:
    one, four, inp = r["ingest_http_1_client"], r["ingest_http_4_clients"], r["ingest_in_process"]
    batch = ("batch_p50_ms", "batch_p99_ms")
    print(f"machine: {r['machine']}; load average {r['load_average']}")
    print(f"ingest HTTP, 1 client : {one['events_per_s']:,.0f} events/s, batch {_lat(one, *batch)}")
    print(f"ingest HTTP, 4 clients: {four['events_per_s']:,.0f} events/s, batch {_lat(four, *batch)}")
    print(f"   vs in-process      : {inp['events_per_s']:,.0f} events/s, batch {_lat(inp, *batch)}")
    for label, key in (("httpx", ""), ("wrk", "wrk_")):
        users, health = r[f"{key}get_user_200_conns"], r[f"{key}health_200_conns"]
        if users and health:
            print(f"{label} GET /v1/users/{{id}} @200: {users['requests_per_s']:,.0f} req/s, {_lat(users)}")
            print(f"   vs GET /health @200: {health['requests_per_s']:,.0f} req/s, {_lat(health)}")
    print(f"   vs in-process get_entity: {_lat(inp, 'get_user_p50_ms', 'get_user_p99_ms')}")


def run() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        secret = generate_key()
        settings = Settings(home=tmp / "home", secret_key=secret)
        _admin, ingest_key, analyst_key = _seed(settings)
        in_process = _in_process(settings)
        port = _free_port()
        env = {**os.environ, "LIVELOOP_HOME": str(settings.home), "LIVELOOP_SECRET_KEY": secret}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "liveloop.cli.main",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            one = _ingest_http(base, ingest_key, 1, "http1-")
            four = _ingest_http(base, ingest_key, 4, "http4-")
            users = asyncio.run(
                _hammer(base, lambda i: f"/v1/users/u{i % USERS}", {"X-API-Key": analyst_key})
            )
            health = asyncio.run(_hammer(base, lambda i: "/health", {}))
            wrk_users = _wrk(base, "/v1/users/u%d", {"X-API-Key": analyst_key}, tmp)
            wrk_health = _wrk(base, "/health", {}, tmp)
        finally:
            server.terminate()
            server.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "machine": machine(),
        "batch_size": BATCH,
        "batches": BATCHES,
        "ingest_http_1_client": one,
        "ingest_http_4_clients": four,
        "ingest_in_process": in_process,
        "get_user_200_conns": users,
        "health_200_conns": health,
        "wrk_get_user_200_conns": wrk_users,
        "wrk_health_200_conns": wrk_health,
        "load_average": os.getloadavg(),
    }
    _report(result)
    return result


if __name__ == "__main__":
    run()
