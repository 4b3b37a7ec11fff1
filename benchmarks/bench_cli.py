"""CLI start-up: wall time of light commands in a fresh home (median of ``BENCH_CLI_RUNS``), beside the
same commands with the model libraries (torch, scikit-learn, pandas, SciPy) imported first, as every
command did before capabilities were imported lazily."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine

RUNS = int(os.environ.get("BENCH_CLI_RUNS", "5"))
COMMANDS = (["--help"], ["status"], ["users", "list", "--limit", "3"], ["segments", "list"])
EAGER = "import torch, sklearn.metrics, sklearn.cluster, pandas, scipy.stats; "


def _time(code: str, args: list[str], env: dict[str, str]) -> float:
    runs = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, check=False, timeout=120
        )
        runs.append(time.perf_counter() - t0)
    return round(statistics.median(runs), 2)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {**os.environ, "LIVELOOP_HOME": str(Path(tmp) / "home")}
        env.pop("LIVELOOP_SECRET_KEY", None)
        lazy = (
            "import sys; from liveloop.cli.main import main; sys.argv = ['liveloop', *sys.argv[1:]]; main()"
        )
        subprocess.run([sys.executable, "-c", lazy, "init"], env=env, capture_output=True, check=True)
        rows = [
            {
                "command": " ".join(args),
                "seconds": _time(lazy, args, env),
                "with_model_libraries_first": _time(EAGER + lazy, args, env),
            }
            for args in COMMANDS
        ]
    result = {"machine": machine(), "runs": RUNS, "commands": rows}
    print(result)
    return result
