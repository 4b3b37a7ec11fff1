"""The service over HTTP on loopback: event ingestion and user look-ups, each beside its floor.

- Ingestion (the issue's goal: >= 20,000 events/s with batches of 500 and one server worker): 1 client
  posting back to back, then several concurrent clients (group commit), each as events/s and p50/p99
  batch latency, beside the same ``ingest_records`` calls made in-process (no HTTP), and the server's
  own CPU time per batch (psutil), the figure that does not depend on how busy the machine is.
  In-process, the cost of a batch is also measured against a warehouse already holding many events
  (the duplicate check reads the ``event_id`` column of the whole table).
- ``GET /v1/users/{id}`` at 200 concurrent connections, driven by a C load generator so the client is
  not the bottleneck: ``wrk`` (closed loop: each connection sends its next request when the answer
  comes) and ``h2load --rps`` (a constant rate per connection, below saturation: the latency a client
  sees when the server is not the queue), beside ``GET /health`` (the floor: no key, no warehouse)
  and the in-process ``get_entity``. Install them with ``apt-get install wrk nghttp2-client``; without
  them the benchmark falls back to httpx and says that those figures are client-bound.

Little's law: in a closed loop, connections = throughput x latency, so at 200 connections the mean
latency is 200 / requests-per-second. That latency is queueing in front of one worker, not the cost
of a request: the server CPU time per request and the constant-rate latency are the figures to compare.

Scale with BENCH_API_BATCHES (batches per ingestion run), BENCH_API_SECONDS (each load-generator
run), BENCH_API_PRELOAD (events already in the warehouse for the in-process scaling figure).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.loadgen import open_loop
from benchmarks.machine import machine
from benchmarks.served import free_port, served
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.ingest import ingest_records
from liveloop.privacy.keys import create_key
from liveloop.warehouse import Warehouse
from liveloop.warehouse.entities import get_entity

BATCH = 500
BATCHES = int(os.environ.get("BENCH_API_BATCHES", "48"))
CLIENTS = (1, 4, 16)
USERS = 5000
CONCURRENCY = 200
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "8"))
PRELOAD = int(os.environ.get("BENCH_API_PRELOAD", "1000000"))
#: Requests per second per connection for the constant-rate run (200 connections: 1,000 req/s).
RATE_PER_CONN = 5


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
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


_free_port = free_port


def _seed(settings: Settings) -> tuple[str, str]:
    with Warehouse.open(settings) as wh:
        users = [
            {"user_id": f"u{i}", "region": "浙江", "city_tier": 1 + i % 5, "phone": f"138{i:08d}"}
            for i in range(USERS)
        ]
        ingest_records(wh, "users", users, source="bench")
        return create_key(wh, "ingest", "bench").key, create_key(wh, "analyst", "bench").key


def _timed_batches(wh: Warehouse, tag: str, n: int) -> dict[str, float]:
    latencies, cpu = [], []
    for b in range(n):
        batch = _events(BATCH, f"{tag}{b}")
        c0, t0 = time.process_time(), time.perf_counter()
        result = ingest_records(wh, "events", batch, source="bench")
        latencies.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert result.accepted == BATCH, (result.accepted, result.duplicates, result.rejected)
    return {
        "events_per_s": n * BATCH / sum(latencies),
        "batch_p50_ms": _pct(latencies, 0.5) * 1e3,
        "batch_p99_ms": _pct(latencies, 0.99) * 1e3,
        "cpu_ms_per_batch": _pct(cpu, 0.5) * 1e3,
    }


def _in_process(settings: Settings) -> dict[str, Any]:
    """The same work without HTTP: ingest_records on batches of 500, get_entity point look-ups."""
    with Warehouse.open(settings) as wh:
        for b in range(3):  # warm: first statements, caches
            ingest_records(wh, "events", _events(BATCH, f"warm{b}"), source="bench")
        empty = _timed_batches(wh, "inproc", max(8, BATCHES // 3))
        lookups, cpu = [], []
        for i in range(2000):
            c0, t0 = time.process_time(), time.perf_counter()
            get_entity(wh, "users", f"u{i % USERS}")
            lookups.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {
        **empty,
        "get_user_p50_ms": _pct(lookups, 0.5) * 1e3,
        "get_user_p99_ms": _pct(lookups, 0.99) * 1e3,
        "get_user_cpu_us": _pct(cpu, 0.5) * 1e6,
    }


def _at_scale(tmp: Path) -> dict[str, Any] | None:
    """In-process batches against a warehouse already holding ``PRELOAD`` events."""
    if PRELOAD <= 0:
        return None
    settings = Settings(home=tmp / "scale", secret_key=generate_key())
    with Warehouse.open(settings) as wh:
        wh.sql(
            "INSERT INTO events (event_id, ts, user_id, type, source) SELECT 'pre-' || i, "
            "TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL 1 SECOND, 'u' || (i % 5000), 'view', "
            f"'bench' FROM range({PRELOAD}) r(i)"
        )
        wh.sql("CHECKPOINT")
        ingest_records(wh, "events", _events(BATCH, "warm"), source="bench")
        return {"events_in_table": PRELOAD, **_timed_batches(wh, "scale", 8)}


def _warm_up(base: str, key: str) -> None:
    """Three batches before timing, as the in-process side gets: the key's first use (argon2id), the
    key index, the first statements of each route are one-time costs, not a batch's."""
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for b in range(3):
            body = json.dumps({"events": _events(BATCH, f"warm-http{b}-")}).encode()
            client.post("/v1/events", content=body).raise_for_status()


def _ingest_http(base: str, key: str, clients: int, tag: str, server: psutil.Process) -> dict[str, Any]:
    n = max(BATCHES, 2 * clients)
    bodies = [json.dumps({"events": _events(BATCH, f"{tag}{b}")}).encode() for b in range(n)]
    latencies: list[float] = []
    headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def worker(part: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for body in part:
                t0 = time.perf_counter()
                resp = client.post("/v1/events", content=body)
                latencies.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.text[:200]
                assert resp.json()["accepted"] == BATCH, resp.text[:200]

    cpu0 = server.cpu_times()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [bodies[i::clients] for i in range(clients)]))
    elapsed = time.perf_counter() - start
    cpu1 = server.cpu_times()
    server_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "clients": clients,
        "events_per_s": n * BATCH / elapsed,
        "batch_p50_ms": _pct(latencies, 0.5) * 1e3,
        "batch_p99_ms": _pct(latencies, 0.99) * 1e3,
        "server_cpu_ms_per_batch": server_cpu / n * 1e3,
        "server_cpu_us_per_event": server_cpu / (n * BATCH) * 1e6,
    }


# -- point look-ups -------------------------------------------------------------------------------
_WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format(PATH, counter % USERS))
end
"""


def _server_cpu(server: psutil.Process, run: Any) -> tuple[Any, float]:
    cpu0 = server.cpu_times()
    out = run()
    cpu1 = server.cpu_times()
    return out, (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)


def _wrk(base: str, path: str, headers: dict[str, str], tmp: Path, server: psutil.Process) -> dict[str, Any]:
    """Closed loop at 200 connections with wrk (one thread: the other core is the server's)."""
    script = tmp / "wrk.lua"
    script.write_text(_WRK_SCRIPT.replace("PATH", repr(path)).replace("USERS", str(USERS)))
    args = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{SECONDS}s", "--timeout", "30s", "--latency"]
    args += ["-s", str(script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    proc, cpu = _server_cpu(
        server, lambda: subprocess.run([*args, base], capture_output=True, text=True, timeout=SECONDS + 60)
    )
    out = proc.stdout

    def ms(label: str) -> float:
        value = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not value:
            return float("nan")
        return float(value.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[value.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    requests = int(total.group(1)) if total else 0
    return {
        "tool": "wrk (closed loop)",
        "requests_per_s": float(rate.group(1)) if rate else float("nan"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "server_cpu_us_per_request": cpu / requests * 1e6 if requests else float("nan"),
        "concurrency": CONCURRENCY,
    }


def _h2load(
    base: str, path: str, headers: dict[str, str], tmp: Path, server: psutil.Process
) -> dict[str, Any]:
    """200 connections at a constant rate in all, arrivals spread evenly (HTTP/1.1): latency below
    saturation (``benchmarks.loadgen``)."""
    paths = [path % (i % USERS) for i in range(USERS)] if "%d" in path else [path]
    rate = CONCURRENCY * RATE_PER_CONN
    out, cpu = _server_cpu(
        server,
        lambda: open_loop(
            [f"{base}{p}" for p in paths], headers, conns=CONCURRENCY, rate=rate, seconds=SECONDS, tmp=tmp
        ),
    )
    n = out.get("requests_with_warmup", 0)
    return out | {
        "server_cpu_us_per_request": cpu / n * 1e6 if n else float("nan"),
        "concurrency": CONCURRENCY,
    }


async def _httpx_hammer(base: str, path_of: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The fallback without a C load generator (the Python client itself is then the bottleneck)."""
    latencies: list[float] = []
    errors: list[int] = []
    per_worker = max(1, 40 * SECONDS // 8)
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

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return {
        "tool": "httpx (client-bound: install wrk / nghttp2-client)",
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": _pct(latencies, 0.5) * 1e3,
        "p99_ms": _pct(latencies, 0.99) * 1e3,
        "non_2xx": len(errors),
        "concurrency": CONCURRENCY,
    }


def _lookups(base: str, key: str, tmp: Path, server: psutil.Process) -> dict[str, Any]:
    auth = {"X-API-Key": key}
    httpx.get(f"{base}/v1/users/u1", headers=auth, timeout=30).raise_for_status()  # key cache warm
    out: dict[str, Any] = {}
    for name, path, headers in (("get_user", "/v1/users/u%d", auth), ("health", "/health", {})):
        if shutil.which("wrk"):
            out[f"{name}_wrk"] = _wrk(base, path, headers, tmp, server)
        if shutil.which("h2load"):
            out[f"{name}_h2load"] = _h2load(base, path, headers, tmp, server)
        if not (shutil.which("wrk") or shutil.which("h2load")):
            path_of = (lambda i, p=path: p % (i % USERS)) if "%d" in path else (lambda i, p=path: p)
            out[f"{name}_httpx"] = asyncio.run(_httpx_hammer(base, path_of, headers))
    return out


# -- report ---------------------------------------------------------------------------------------
def _lat(r: dict[str, Any], p50: str = "p50_ms", p99: str = "p99_ms") -> str:
    return f"p50 {r[p50]:.1f} ms, p99 {r[p99]:.1f} ms"


def _report(r: dict[str, Any]) -> None:
    batch = ("batch_p50_ms", "batch_p99_ms")
    print(f"machine: {r['machine']}; load average {r['load_average']}")
    for run in r["ingest_http"]:
        print(
            f"ingest HTTP, {run['clients']:>2} client(s): {run['events_per_s']:>8,.0f} events/s, "
            f"batch {_lat(run, *batch)}; server CPU {run['server_cpu_ms_per_batch']:.1f} ms/batch "
            f"({run['server_cpu_us_per_event']:.0f} µs/event)"
        )
    inp = r["ingest_in_process"]
    print(
        f"   vs in-process ingest_records: {inp['events_per_s']:,.0f} events/s, batch {_lat(inp, *batch)}, "
        f"CPU {inp['cpu_ms_per_batch']:.1f} ms/batch"
    )
    scale = r.get("ingest_in_process_at_scale")
    if scale:
        print(
            f"   in-process with {scale['events_in_table']:,} events already stored: "
            f"CPU {scale['cpu_ms_per_batch']:.1f} ms/batch, batch {_lat(scale, *batch)}"
        )
    goal = max(run["events_per_s"] for run in r["ingest_http"] if run["clients"] == 1)
    print(
        f"   goal >= 20,000 events/s with one client: {'met' if goal >= 20_000 else 'NOT met'} ({goal:,.0f})"
    )
    for key, run in r["lookups"].items():
        cpu = run.get("server_cpu_us_per_request")
        cpu_txt = f"; server CPU {cpu:.0f} µs/request" if cpu is not None else ""
        print(
            f"{key:>16} @{run['concurrency']}: {run['requests_per_s']:>7,.0f} req/s, {_lat(run)}, "
            f"non-2xx {run['non_2xx']}{cpu_txt}  [{run['tool']}]"
        )
    print(
        f"   vs in-process get_entity: {_lat(inp, 'get_user_p50_ms', 'get_user_p99_ms')}, "
        f"CPU {inp['get_user_cpu_us']:.0f} µs"
    )


def run() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        secret = generate_key()
        settings = Settings(home=tmp / "home", secret_key=secret)
        ingest_key, analyst_key = _seed(settings)
        in_process = _in_process(settings)
        at_scale = _at_scale(tmp)
        with served(settings) as (proc, base):
            server = psutil.Process(proc.pid)
            _warm_up(base, ingest_key)
            ingest = [_ingest_http(base, ingest_key, c, f"http{c}-", server) for c in CLIENTS]
            lookups = _lookups(base, analyst_key, tmp, server)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "machine": machine(),
        "batch_size": BATCH,
        "batches": BATCHES,
        "ingest_http": ingest,
        "ingest_in_process": in_process,
        "ingest_in_process_at_scale": at_scale,
        "lookups": lookups,
        "load_average": os.getloadavg(),
    }
    _report(result)
    return result


if __name__ == "__main__":
    run()
