"""Open-loop HTTP load with h2load: a constant request rate whose arrivals are spread evenly.

``h2load --rps R -D T`` starts every connection at once, so with 200 connections at 5 requests/s each
the server gets 200 requests in the same millisecond every 200 ms: the latency it reports is the time to
drain a burst, not the latency at the offered rate. Here the connections are opened one at a time
(``--rate 1 --rate-period P``) across one request interval, so the requests arrive evenly (one every
``1 / rate`` seconds in all), which is what many independent clients look like. Latency percentiles
come from h2load's per-request log, after a warm-up.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def open_loop(
    uris: list[str],
    headers: dict[str, str],
    *,
    conns: int,
    rate: int,
    seconds: float,
    tmp: Path,
    warmup_s: float = 2.0,
) -> dict[str, Any]:
    """``conns`` HTTP/1.1 connections offering ``rate`` requests/s in all for ``seconds`` after a warm-up,
    cycling through ``uris``; returns served rate, p50/p99 latency (ms) and non-2xx count."""
    per_conn = max(1, round(rate / conns))
    offered = per_conn * conns
    period_ms = max(1, round(1000 / offered))  # conns openings spread over one request interval
    total = int(offered * (seconds + warmup_s))
    uri_file, log = tmp / "open-loop-uris.txt", tmp / "open-loop.log"
    uri_file.write_text("".join(f"{u}\n" for u in uris))
    log.unlink(missing_ok=True)
    args = ["h2load", "--h1", "-c", str(conns), "--rps", str(per_conn), "-r", "1"]
    args += ["--rate-period", f"{period_ms}ms", "-n", str(total), "-i", str(uri_file), "--log-file", str(log)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + warmup_s + 120, check=False)
    rows = [line.split("\t") for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    rows = [r for r in rows if len(r) >= 3]
    if not rows:
        return {"tool": "h2load", "error": proc.stderr[-300:] or "no requests logged"}
    start = min(int(r[0]) for r in rows) + warmup_s * 1e6
    kept = [r for r in rows if int(r[0]) >= start]
    lat = sorted(int(r[2]) / 1e3 for r in kept)
    end = max(int(r[0]) + int(r[2]) for r in kept)
    return {
        "tool": f"h2load --h1 -c {conns} --rps {per_conn}, staggered {period_ms} ms apart (open loop)",
        "offered_per_s": offered,
        "requests": len(kept),
        "requests_with_warmup": len(rows),
        "requests_per_s": round(len(kept) / max((end - start) / 1e6, 1e-9), 1),
        "p50_ms": round(lat[len(lat) // 2], 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "non_2xx": sum(not r[1].startswith("2") for r in kept),
    }
