"""Load shedding under a write flood: ``BENCH_FLOOD_CONNS`` connections (400) sending 1,000-event batches
to ``/v1/events`` as fast as answers come (wrk, closed loop) while one reader times ``GET /v1/users/{id}``
one after another. The same flood runs twice in the same session on the same warehouse: with the write
shedding liveloop ships (32 writes in flight, 200 requests/s per key) and with it turned off (the
comparison: what the service did before). Reported: the writes' status mix, the reads' p50/p99, the
server's peak RSS. Needs ``wrk`` (``make bench-deps``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.bench_api import _events, _pct, _seed
from benchmarks.machine import machine
from benchmarks.served import served
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key

CONNS = int(os.environ.get("BENCH_FLOOD_CONNS", "400"))
SECONDS = int(os.environ.get("BENCH_FLOOD_SECONDS", "20"))
GOAL_P99_MS = 100.0
_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
local f = io.open("{body}", "rb"); wrk.body = f:read("*all"); f:close()
"""


def _statuses(base: str, key: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", headers={"X-API-Key": key}, timeout=30).text
    pattern = re.compile(r"^liveloop_http_requests_total\{(.*)\} ([0-9.e+]+)$", re.M)
    out: dict[str, float] = {}
    for labels, value in pattern.findall(text):
        if 'method="POST"' in labels:  # the flood's writes (refused ones never reach a route)
            status = re.search(r'status="(\d+)"', labels)
            if status:
                out[status.group(1)] = out.get(status.group(1), 0) + float(value)
    return out


def _flood(settings: Settings, secret: str, keys: tuple[str, str], tmp: Path, shed: bool) -> dict[str, Any]:
    ingest_key, analyst_key = keys
    env: dict[str, str] = {}
    if not shed:
        env = {
            "LIVELOOP_MAX_WRITES_INFLIGHT": "1000000",
            "LIVELOOP_MAX_WRITES_INFLIGHT_READING": "1000000",
            "LIVELOOP_WRITE_RATE": "1e9",
            "LIVELOOP_WRITE_BURST": "1e9",
        }
    with served(replace(settings, secret_key=secret), env) as (proc, base):
        server = psutil.Process(proc.pid)
        user = "bench-u1"
        body = tmp / "flood.json"
        body.write_text(json.dumps({"events": _events(1000, f"flood-{shed}-")}))
        script = tmp / "flood.lua"
        script.write_text(_SCRIPT.format(key=ingest_key, body=body))
        before = _statuses(base, analyst_key)
        reads: list[float] = []
        failed_reads = 0
        rss = [server.memory_info().rss]
        stop = threading.Event()

        def reader() -> None:
            nonlocal failed_reads
            with httpx.Client(base_url=base, headers={"X-API-Key": analyst_key}, timeout=60) as client:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    try:
                        ok = client.get(f"/v1/users/{user}").status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    reads.append(time.perf_counter() - t0)
                    failed_reads += not ok
                    rss.append(server.memory_info().rss)
                    time.sleep(0.02)

        thread = threading.Thread(target=reader)
        wrk = subprocess.Popen(
            [
                "wrk",
                "-t1",
                f"-c{CONNS}",
                f"-d{SECONDS}s",
                "--timeout",
                "60s",
                "-s",
                str(script),
                f"{base}/v1/events",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the flood is on before the first timed read
        thread.start()
        out, _ = wrk.communicate()
        stop.set()
        thread.join()
        after = _statuses(base, analyst_key)
    mix = {s: int(after.get(s, 0) - before.get(s, 0)) for s in after if after.get(s, 0) - before.get(s, 0)}
    return {
        "shedding": shed,
        "write_status_mix": mix,
        "events_accepted_per_s": mix.get("200", 0) * 1000 / SECONDS,
        "reads": len(reads),
        "reads_failed": failed_reads,
        "read_p50_ms": _pct(reads, 0.5) * 1e3,
        "read_p99_ms": _pct(reads, 0.99) * 1e3,
        "server_peak_rss_mb": max(rss) / 2**20,
        "wrk": out.strip().splitlines()[-3:],
    }


def run() -> dict[str, Any]:
    if not shutil.which("wrk"):
        raise SystemExit("bench_shedding needs wrk: make bench-deps")
    tmp = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    try:
        secret = generate_key()
        settings = Settings(home=tmp / "home", secret_key=secret)
        keys = _seed(settings)
        from liveloop.warehouse import Warehouse

        with Warehouse.open(settings) as wh:
            wh.sql("INSERT INTO users (user_id) VALUES ('bench-u1') ON CONFLICT DO NOTHING")
        runs = [_flood(settings, secret, keys, tmp, shed) for shed in (True, False)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "machine": machine(),
        "connections": CONNS,
        "seconds": SECONDS,
        "goal_read_p99_ms": GOAL_P99_MS,
        "runs": runs,
    }
    for r in runs:
        print(
            f"shedding {'on ' if r['shedding'] else 'off'}: writes {r['write_status_mix']}, "
            f"reads p50 {r['read_p50_ms']:.1f} ms p99 {r['read_p99_ms']:.1f} ms ({r['reads']} reads, "
            f"{r['reads_failed']} failed), peak RSS {r['server_peak_rss_mb']:.0f} MB"
        )
    return result
