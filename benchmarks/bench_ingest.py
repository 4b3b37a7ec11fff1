"""Bulk import of a native events CSV with full validation, beside DuckDB's own ``read_csv``.

Generates ``LIVELOOP_BENCH_ROWS`` rows (default 10M) of realistic events with ~0.6% bad rows
(unknown types, millisecond timestamps, negative amounts, malformed lines) and ~0.3% duplicate ids,
then times, each in a fresh subprocess on the same file, ``LIVELOOP_BENCH_REPEAT`` (default 3) pairs back
to back (the median pair is reported: this machine's speed moves between runs). With
``LIVELOOP_BENCH_BASELINE=DIR`` (the ``src`` folder of an older checkout) each round also runs that
liveloop's import, so a change is measured against the code before it on the same minutes:

- ``liveloop``: ``import_file`` — parse, validate every field, de-duplicate against the warehouse,
  quarantine the bad rows, one transaction per chunk;
- ``duckdb``: ``CREATE TABLE AS SELECT * FROM read_csv(...)`` (type sniffing, no validation, bad lines
  skipped) — the raw speed ceiling.

Reports rows/s of each, their ratio, and the peak RSS of each process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from benchmarks.machine import machine

TYPES = np.array(
    ["view", "click", "add_to_cart", "purchase", "favorite", "comment", "like", "share", "enter_room"]
)
TYPE_P = np.array([0.46, 0.18, 0.08, 0.04, 0.04, 0.08, 0.07, 0.02, 0.03])
CHANNELS = np.array(["live", "feed", "search", "app_push", ""])
WORDS = np.array(
    ["好看", "多少钱", "发货快吗", "主播好美", "买了", "质量不错", "有优惠券吗", "nice", "love it", ""]
)
BASE = 1_714_521_600  # 2024-05-01 00:00 UTC


def _chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n)
    dup = rng.random(n) < 0.003
    ids[dup] = np.maximum(ids[dup] - rng.integers(1, 5000, dup.sum()), 0)
    types = rng.choice(TYPES, n, p=TYPE_P)
    secs = BASE + rng.integers(0, 30 * 86400, n)
    ts = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    ts = np.char.replace(ts.astype(str), "T", " ")
    money = types == "purchase"
    amount = np.where(money, np.round(rng.gamma(2.0, 60.0, n), 2).astype(str), "")
    quantity = np.where(money | (types == "add_to_cart"), rng.integers(1, 4, n).astype(str), "")
    text = np.where(types == "comment", rng.choice(WORDS, n), "")
    bad = rng.random(n)
    types = np.where(bad < 0.002, "teleport", types)  # unknown event type
    ts = np.where((bad >= 0.002) & (bad < 0.004), (secs * 1000).astype(str), ts)  # milliseconds
    amount = np.where((bad >= 0.004) & (bad < 0.005) & money, "-" + amount, amount)  # negative purchase
    return pa.table(
        {
            "event_id": pa.array(np.char.add("ev", ids.astype(str))),
            "ts": pa.array(ts),
            "user_id": pa.array(np.char.add("u", rng.zipf(1.3, n).clip(1, 2_000_000).astype(str))),
            "type": pa.array(types),
            "session_id": pa.array(np.char.add("s", (secs // 7200).astype(str))),
            "product_id": pa.array(np.char.add("p", rng.integers(1, 50_000, n).astype(str))),
            "channel": pa.array(rng.choice(CHANNELS, n)),
            "amount": pa.array(amount),
            "quantity": pa.array(quantity),
            "text": pa.array(text),
        }
    )


def generate(path: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write the events CSV; returns how many malformed lines it holds."""
    rng = np.random.default_rng(seed)
    step = 1_000_000
    malformed = 0
    with path.open("wb") as fh:
        for start in range(0, rows, step):
            n = min(step, rows - start)
            buf = pa.BufferOutputStream()
            pcsv.write_csv(_chunk(rng, start, n), buf, pcsv.WriteOptions(include_header=start == 0))
            fh.write(buf.getvalue().to_pybytes())
            fh.write(f"ev_broken_{start},2024-05-01 00:00:00,u1\n".encode())  # a malformed line per chunk
            malformed += 1
    return {"malformed_lines": malformed}


#: Peak RSS from /proc (VmHWM): unlike ru_maxrss it is not inherited from the parent across exec.
_PEAK = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"

LIVELOOP_CHILD = textwrap.dedent(
    f"""
    import json, sys, time
    from liveloop.ingest import import_file
    from liveloop.warehouse import Warehouse
    with Warehouse(sys.argv[1]) as wh:
        t, c = time.perf_counter(), time.process_time()
        report = import_file(wh, sys.argv[2])
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({{"seconds": seconds, "cpu": cpu, "report": report.to_dict(), "peak_rss_mb": {_PEAK}}}))
    """
)

DUCKDB_CHILD = textwrap.dedent(
    f"""
    import json, sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SET enable_progress_bar = false")
    t, c = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{{sys.argv[2]}}', ignore_errors = true)")
    rows = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    con.close()
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({{"seconds": seconds, "cpu": cpu, "rows": rows, "peak_rss_mb": {_PEAK}}}))
    """
)


def _child(code: str, *args: str, src: str | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (``src``: import liveloop from that source tree instead)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if src:
        env["PYTHONPATH"] = src
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _pair(tmp: Path, path: Path, run: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """DuckDB, then liveloop into a new warehouse, back to back on the same file."""
    duck = _child(DUCKDB_CHILD, str(tmp / f"duck{run}.duckdb"), str(path))
    os.environ["LIVELOOP_HOME"] = str(tmp / f"home{run}")
    ours = _child(LIVELOOP_CHILD, str(tmp / f"liveloop{run}.duckdb"), str(path))
    for name in (f"duck{run}.duckdb", f"liveloop{run}.duckdb"):
        (tmp / name).unlink(missing_ok=True)
    return duck, ours


def _baseline(tmp: Path, path: Path, run: int, src: str) -> dict[str, Any]:
    """The same import by another liveloop (``LIVELOOP_BENCH_BASELINE``: the ``src`` folder of an older
    checkout, e.g. ``git worktree add /tmp/old REV``), right after the pair on the same file."""
    os.environ["LIVELOOP_HOME"] = str(tmp / f"base_home{run}")
    base = _child(LIVELOOP_CHILD, str(tmp / f"base{run}.duckdb"), str(path), src=src)
    (tmp / f"base{run}.duckdb").unlink(missing_ok=True)
    return base


def run() -> dict[str, Any]:
    rows = int(os.environ.get("LIVELOOP_BENCH_ROWS", "10000000"))
    # this machine's speed moves between runs (a shared VM): pairs run back to back, the median pair counts
    repeat = max(1, int(os.environ.get("LIVELOOP_BENCH_REPEAT", "3")))
    os.environ.setdefault("LIVELOOP_SECRET_KEY", "A" * 43 + "=")
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        path = Path(tmp) / "events.csv"
        extra = generate(path, rows)
        size_mb = path.stat().st_size / 2**20
        baseline_src = os.environ.get("LIVELOOP_BENCH_BASELINE")
        pairs, bases = [], []
        for i in range(repeat):
            pairs.append(_pair(Path(tmp), path, i))
            if baseline_src:
                bases.append(_baseline(Path(tmp), path, i, baseline_src))
    lines = rows + extra["malformed_lines"]
    ratios = [(d["seconds"] / o["seconds"]) for d, o in pairs]
    duck, ours = pairs[sorted(range(repeat), key=ratios.__getitem__)[repeat // 2]]
    report = ours["report"]
    result = {
        "machine": machine(),
        "rows": lines,
        "file_mb": round(size_mb, 1),
        "runs": repeat,
        "liveloop_seconds": round(ours["seconds"], 2),
        "liveloop_rows_per_s": round(lines / ours["seconds"]),
        "liveloop_peak_rss_mb": round(max(o["peak_rss_mb"] for _, o in pairs)),
        "duckdb_read_csv_seconds": round(duck["seconds"], 2),
        "duckdb_read_csv_rows_per_s": round(duck["rows"] / duck["seconds"]),
        "duckdb_peak_rss_mb": round(max(d["peak_rss_mb"] for d, _ in pairs)),
        "speed_vs_duckdb": round((lines / ours["seconds"]) / (duck["rows"] / duck["seconds"]), 3),
        "speed_vs_duckdb_each_run": [
            round(r * lines / d["rows"], 3) for r, (d, _) in zip(ratios, pairs, strict=True)
        ],
        "liveloop_cpu_seconds": round(ours["cpu"], 2),
        "duckdb_cpu_seconds": round(duck["cpu"], 2),
        "cpu_speed_vs_duckdb": round((lines / ours["cpu"]) / (duck["rows"] / duck["cpu"]), 3),
        "report": {
            k: report[k]
            for k in ("rows_read", "loaded", "duplicates", "quarantined", "by_reason", "balanced")
        },
    }
    if bases:  # each run of the older code beside the DuckDB run and the liveloop run of its round
        result["baseline"] = {
            "src": baseline_src,
            "seconds_each_run": [round(b["seconds"], 2) for b in bases],
            "cpu_seconds_each_run": [round(b["cpu"], 2) for b in bases],
            "peak_rss_mb_each_run": [round(b["peak_rss_mb"]) for b in bases],
            "speed_vs_duckdb_each_run": [
                round(d["seconds"] / b["seconds"] * lines / d["rows"], 3)
                for (d, _), b in zip(pairs, bases, strict=True)
            ],
            "speedup_each_run": [
                round(b["seconds"] / o["seconds"], 2) for (_, o), b in zip(pairs, bases, strict=True)
            ],
        }
    print(f"rows {lines:,} ({result['file_mb']} MB CSV), {repeat} back-to-back pairs, the median shown")
    print(
        f"liveloop import (full validation): {result['liveloop_rows_per_s']:,} rows/s "
        f"({result['liveloop_seconds']} s), peak RSS {result['liveloop_peak_rss_mb']} MB (highest run)"
    )
    print(
        f"duckdb read_csv (no validation):   {result['duckdb_read_csv_rows_per_s']:,} rows/s "
        f"({result['duckdb_read_csv_seconds']} s), peak RSS {result['duckdb_peak_rss_mb']} MB"
    )
    print(
        f"liveloop / duckdb speed: {result['speed_vs_duckdb']:.0%} wall clock "
        f"(runs: {', '.join(f'{r:.0%}' for r in result['speed_vs_duckdb_each_run'])}), "
        f"{result['cpu_speed_vs_duckdb']:.0%} by CPU time (goal >= 50%)"
    )
    if bases:
        b = result["baseline"]
        print(
            f"baseline {baseline_src}: {', '.join(f'{x} s' for x in b['seconds_each_run'])} "
            f"({', '.join(f'{r:.0%}' for r in b['speed_vs_duckdb_each_run'])} of DuckDB); "
            f"liveloop is {', '.join(f'{x}x' for x in b['speedup_each_run'])} as fast"
        )
    print(
        f"accounted: read {report['rows_read']:,} = loaded {report['loaded']:,} + duplicates "
        f"{report['duplicates']:,} + quarantined {report['quarantined']:,}"
    )
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
