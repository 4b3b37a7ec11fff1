"""``liveloop datasets list|info|load`` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from liveloop.datasets import catalog


def _run(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVELOOP_DATA_HOME": str(data_home)}
    return subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", "datasets", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def test_list_and_info_json(data_home: Path) -> None:
    listed = json.loads(_run("list", "--json", data_home=data_home).stdout)
    assert [row["name"] for row in listed] == sorted(catalog())
    out = _run("info", "taobao_userbehavior_head", "--json", data_home=data_home)
    assert out.returncode == 0
    body = json.loads(out.stdout)
    assert body["adapter"] == "taobao" and "Haohanblue/mydeep" in body["origin"]
    assert body["files"][0]["name"] == "UserBehavior_head84k.csv"


def test_load_prints_rows_and_columns(data_home: Path) -> None:
    out = _run("load", "waimai_10k", "--json", data_home=data_home)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["tables"] == [{"file": "waimai_10k.csv", "rows": 11_987, "columns": ["label", "review"]}]
    human = _run("load", "waimai_10k", data_home=data_home)
    assert "11,987" in human.stdout


def test_missing_data_is_one_line_and_nonzero(tmp_path: Path) -> None:
    out = _run("load", "cdnow", data_home=tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0
    assert "cdnow/CDNOW_master.txt" in out.stderr and "Traceback" not in out.stderr
    bad = _run("info", "no_such_set", data_home=tmp_path)
    assert bad.returncode != 0 and "unknown data set" in bad.stderr
