"""The recommend commands through the real entry point: JSON output and one-line failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVELOOP_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_bundles_json_and_bad_input(tmp_path: Path, data_home: Path) -> None:
    out = _cli(
        "recommend",
        "bundles",
        "--min-support",
        "0.001",
        "--min-confidence",
        "0.8",
        "--top",
        "3",
        "--json",
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["rules"] == 412 and len(body["top"]) == 3 and body["top"][0]["then"] == "bottled beer"

    k = _cli("recommend", "show", "someone", "-k", "0", home=tmp_path)
    assert k.returncode == 2 and "k must be between" in k.stderr
