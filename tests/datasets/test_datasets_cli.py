"""``liveloop datasets list|info|load``: in-process through the Typer app, and once through main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liveloop.cli.main import app
from liveloop.core.errors import NotFound
from liveloop.datasets import catalog

runner = CliRunner()


@pytest.fixture(autouse=True)
def _data_home(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVELOOP_DATA_HOME", str(data_home))


def test_list_and_info_json() -> None:
    listed = runner.invoke(app, ["datasets", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["name"] for row in json.loads(listed.stdout)] == sorted(catalog())
    out = runner.invoke(app, ["datasets", "info", "taobao_userbehavior_head", "--json"])
    body = json.loads(out.stdout)
    assert body["adapter"] == "taobao" and "Haohanblue/mydeep" in body["origin"]
    assert body["files"][0]["name"] == "UserBehavior_head84k.csv"
    human = runner.invoke(app, ["datasets", "info", "cdnow"])
    assert "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef" in human.stdout


def test_load_prints_rows_and_columns() -> None:
    out = runner.invoke(app, ["datasets", "load", "waimai_10k", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["tables"] == [{"file": "waimai_10k.csv", "rows": 11_987, "columns": ["label", "review"]}]
    human = runner.invoke(app, ["datasets", "load", "waimai_10k"])
    assert "11,987" in human.stdout


def test_verify_one_and_all() -> None:
    one = runner.invoke(app, ["datasets", "verify", "groceries", "--json"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)[0]["files"][0]["sha256"].startswith("ff1be892")
    every = runner.invoke(app, ["datasets", "verify"])
    assert every.exit_code == 0, every.output
    assert every.stdout.count("ok  ") == len(catalog())


def test_unknown_name_is_refused() -> None:
    out = runner.invoke(app, ["datasets", "info", "no_such_set"])
    assert isinstance(out.exception, NotFound) and "unknown data set" in out.exception.detail


def test_missing_data_is_one_line_and_nonzero(tmp_path: Path) -> None:
    env = {**os.environ, "LIVELOOP_DATA_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", "datasets", "load", "cdnow"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0
    assert "cdnow/CDNOW_master.txt" in out.stderr and "Traceback" not in out.stderr
