"""Fuzzing at scale: the stateful fuzz of ``tests/api/test_api_stateful_fuzz.py`` (random writes on every
write route, each followed by reads of every read route and page) with ``BENCH_FUZZ_EXAMPLES`` runs of
``BENCH_FUZZ_STEPS`` steps; reports the calls made, the status classes and every 5xx found (goal: none).
The comparison is the single-call fuzz CI runs (8 cases per operation, no sequence)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine

EXAMPLES = os.environ.get("BENCH_FUZZ_EXAMPLES", "40")
STEPS = os.environ.get("BENCH_FUZZ_STEPS", "40")


def run() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        report = Path(tmp) / "fuzz.json"
        env = {
            **os.environ,
            "LIVELOOP_FUZZ_EXAMPLES": EXAMPLES,
            "LIVELOOP_FUZZ_STEPS": STEPS,
            "LIVELOOP_FUZZ_REPORT": str(report),
        }
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/api/test_api_stateful_fuzz.py",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        found = json.loads(report.read_text()) if report.exists() else {}
    result = {
        "machine": machine(),
        "examples": int(EXAMPLES),
        "steps": int(STEPS),
        "calls": found.get("calls"),
        "status_classes": found.get("codes"),
        "server_errors": found.get("failures"),
        "passed": done.returncode == 0,
        "seconds": round(seconds, 1),
    }
    print(result)
    return result
