"""Market-simulator throughput: events/s and peak memory of the large preset, beside plain pyarrow.

Each case runs in its own Python process so its peak RSS is its own. The comparison writes the same
number of event rows (ids, timestamps, types, amounts drawn at random with NumPy and built with Arrow
compute, zstd Parquet) with pyarrow alone: the floor any generator streaming to Parquet must pay, so the gap
is the cost of the behaviour model itself. Wall and CPU seconds are both recorded (the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks.machine import machine

_SIMULATE = """
import json, resource, sys, time
from liveloop.datasets.simulator import SimConfig, simulate_to_dir
cfg = SimConfig.preset(sys.argv[1], seed=7)
t = time.perf_counter()
s = simulate_to_dir(sys.argv[2], cfg)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"scale": sys.argv[1], "events": s["events"], "orders": s["orders"],
                  "comments": s["comments"], "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                  "users": s["users"], "days": s["days"], "seconds": round(wall, 2),
                  "events_per_s": round(s["events"] / wall), "peak_rss_mib": round(ru.ru_maxrss / 1024)}))
"""

_PYARROW = """
import json, resource, sys, time
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
n, chunk = int(sys.argv[1]), 250_000
rng = np.random.default_rng(0)
types = pa.array(["view", "like", "enter_room", "leave_room", "comment", "purchase"])


def ids(prefix, numbers):
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


t = time.perf_counter()
schema = pa.schema([("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("user_id", pa.string()),
                    ("type", pa.string()), ("product_id", pa.string()), ("amount", pa.decimal128(18, 2))])
with pq.ParquetWriter(sys.argv[2] + "/events.parquet", schema, compression="zstd") as w:
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        w.write_table(pa.table({
            "event_id": ids("e", np.arange(lo, lo + k)),
            "ts": pa.array(np.sort(rng.integers(1_760_000_000, 1_765_000_000, k)) * 1_000_000,
                           pa.timestamp("us", tz="UTC")),
            "user_id": ids("u", rng.integers(0, 66_000, k)),
            "type": types.take(pa.array(rng.integers(0, 6, k))),
            "product_id": ids("p", rng.integers(0, 10_000, k)),
            "amount": pa.array(np.round(rng.random(k) * 100, 2)).cast(pa.decimal128(18, 2), safe=False),
        }, schema=schema))
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": n, "seconds": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                  "rows_per_s": round(n / wall), "peak_rss_mib": round(ru.ru_maxrss / 1024)}))
"""


def _run(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> dict[str, Any]:
    """Small and large presets (``LIVELOOP_BENCH_SIMULATOR_SCALES=tiny,small`` for a quick check of this
    code), then plain pyarrow writing as many rows as the last one."""
    scales = os.environ.get("LIVELOOP_BENCH_SIMULATOR_SCALES", "small,large").split(",")
    results: dict[str, Any] = {"machine": machine(), "scales": scales}
    for scale in scales:
        with tempfile.TemporaryDirectory() as tmp:
            results[scale] = _run(_SIMULATE, scale, tmp)
        r = results[scale]
        print(
            f"simulate --scale {scale}: {r['events']:,} events in {r['seconds']} s = "
            f"{r['events_per_s']:,} events/s (CPU {r['cpu_s']} s), peak RSS {r['peak_rss_mib']} MiB",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        base = _run(_PYARROW, str(results[scales[-1]]["events"]), tmp)
    results["pyarrow_write_same_rows"] = base
    print(
        f"plain pyarrow, same {base['rows']:,} rows: {base['seconds']} s = {base['rows_per_s']:,} rows/s, "
        f"CPU {base['cpu_s']} s, peak RSS {base['peak_rss_mib']} MiB",
        flush=True,
    )
    last = results[scales[-1]]
    results["simulator_vs_pyarrow_time"] = round(last["seconds"] / base["seconds"], 2)
    print(
        f"{scales[-1]} preset takes {results['simulator_vs_pyarrow_time']}x the time of writing the rows "
        f"alone; goal (large): 10M+ events under 300 s (got {last['events']:,} in {last['seconds']} s)",
        flush=True,
    )
    return results
