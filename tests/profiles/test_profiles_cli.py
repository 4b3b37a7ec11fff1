"""The profile commands through the CLI entry point (in process): output, JSON and one-line failures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from profiles_shop import seed_shop
from rich.console import Console

from liveloop.cli import profiles_cmds
from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.profiles import BuildOptions
from liveloop.warehouse import Warehouse


def _one_line_failure(code: int, err: str, *words: str) -> None:
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


@pytest.mark.slow
def test_build_segments_and_users_commands(cli, settings: Settings, tmp_path: Path) -> None:
    with Warehouse.open(settings) as wh:
        seed_shop(wh, n_users=40, days=90)
    code, out, _ = cli("users", "list")
    assert code == 0 and "no profiles yet: run `liveloop profiles build`" in out
    rules = tmp_path / "rules.toml"
    rules.write_text("[lifecycle]\nchurn_days = 120\n")
    code, out, err = cli("profiles", "build", "--k-max", "4", "--rules", str(rules))
    assert code == 0, err
    assert "built 40 profiles" in out and f"lifecycle rules: {rules}" in out
    for model in ("segments: K = ", "high_value: ", "interest: held-out accuracy", "similar_users: held-out"):
        assert model in out, out

    code, out, err = cli("segments", "list", "--json")
    assert code == 0, err
    segments = json.loads(out)
    assert 3 <= len(segments) <= 4 and sum(s["size"] for s in segments) == 40
    code, out, _ = cli("segments", "list")
    assert all(s["segment_id"] in out for s in segments) and "top categories" in out
    sid = segments[0]["segment_id"]
    code, out, _ = cli("segments", "show", sid)
    assert code == 0 and segments[0]["name_en"] in out and "sample users:" in out
    assert "[" not in out and "None" not in out and "top categories: " in out  # no Python reprs
    code, out, _ = cli("users", "list", "--segment", sid, "--limit", "3", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["total"] == segments[0]["size"] and len(listed["users"]) == 3
    code, out, _ = cli("users", "list", "--segment", sid, "--limit", "3")
    assert listed["users"][0]["user_id"] in out and f"of {segments[0]['size']} users" in out
    assert "no profiles yet" not in out
    code, _, err = cli("users", "list", "--value-tier", "gold")
    assert code == 2 and "value tier" in err and "Traceback" not in err

    code, out, err = cli("users", "show", "u001")
    assert code == 0, err
    assert "next interest: " in out and "LSTM next-category model" in out and "lifecycle:" in out
    code, out, _ = cli("users", "show", "u001", "--json")
    profile = json.loads(out)
    assert profile["interest"]["categories"] and profile["tags"]

    code, out, err = cli("users", "similar", "u001", "-k", "3", "--json")
    assert code == 0, err
    similar = json.loads(out)
    assert len(similar["items"]) == 3 and all(i["user_id"] != "u001" for i in similar["items"])
    code, out, _ = cli("users", "similar", "u001", "-k", "3")
    assert similar["items"][0]["user_id"] in out

    tag = profile["tags"][0]["tag"]
    code, out, err = cli("users", "remove-tag", "u001", tag)
    assert code == 0 and f"removed {tag}" in out, err
    code, out, _ = cli("users", "tags", "u001", "--json")
    tags = json.loads(out)
    assert tag not in [t["tag"] for t in tags["tags"]] and tags["removed_tags"][0]["tag"] == tag
    assert tags["removed_tags"][0]["removed_by"] == "cli"

    code, _, err = cli("users", "show", "ghost")
    _one_line_failure(code, err, "ghost")
    code, _, err = cli("users", "remove-tag", "u001", "beauty")
    _one_line_failure(code, err, "category:VALUE")
    code, _, err = cli("segments", "show", "S99")
    _one_line_failure(code, err, "S99")
    code, _, err = cli("profiles", "build", "--high-value-model", "svm")
    _one_line_failure(code, err, "high-value model")
    code, _, err = cli("profiles", "build", "--rules", str(tmp_path / "absent.toml"))
    _one_line_failure(code, err, "absent.toml")
    code, _, err = cli("profiles", "build", "--memory-limit", "lots")
    _one_line_failure(code, err, "memory limit", "lots")
    with pytest.raises(ValidationFailed, match="memory limit"):  # the Python API checks it too
        BuildOptions(memory_limit="1GB'; SET threads = 64; --")
    code, _, err = cli("profiles", "build", "--cutoff", "yesterday")
    _one_line_failure(code, err, "--cutoff")


@pytest.mark.slow
def test_evaluate_profiling_on_cdnow(cli, settings: Settings, data_home: Path, monkeypatch) -> None:
    code, out, err = cli("evaluate", "profiling", "--dataset", "cdnow", "--json")
    assert code == 0, err
    report = json.loads(out)
    algorithms = {r["algorithm"]: r for r in report["rows"]}
    assert {"Random forest", "LightGBM", "K-means", "BG/NBD"} <= set(algorithms)
    for row in report["rows"]:
        assert row["data_used"] and row["baseline"]["name"] and row["split"] and row["n_test"] == 23570
        assert 0 <= row["accuracy"] <= 100 and 0 <= row["f1"] <= 1
    assert report["bgnbd_reference"]["max_relative_error"] < 0.01
    wide = Console(file=io.StringIO(), width=400)
    monkeypatch.setattr(profiles_cmds, "console", wide)
    profiles_cmds.render_table1([report])  # the human table, from the same report
    table = wide.file.getvalue()  # type: ignore[attr-defined]
    assert "data used" in table and "purchase history (frequency, recency, T)" in table
    assert "RFM rule" in table and "88.5 / 82.3 / 0.853" in table  # baseline and reference columns

    code, _, err = cli("evaluate", "profiling", "--dataset", "nope")
    _one_line_failure(code, err, "nope")
