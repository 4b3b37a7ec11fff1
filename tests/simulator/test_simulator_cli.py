"""``liveloop simulate`` and ``simulate_into_warehouse``: through ingest into a real warehouse, idempotent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from liveloop.cli.main import app, main
from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
from liveloop.warehouse import Warehouse

runner = CliRunner()


def test_simulate_into_warehouse_goes_through_ingest(wh: Warehouse) -> None:
    summary = simulate_into_warehouse(wh, scale="tiny", seed=5)
    count = lambda t: wh.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # noqa: E731
    assert summary["events"] == count("events") > 1000
    assert summary["users"] == count("users") and summary["sessions"] == count("live_sessions")
    assert summary["orders"] == count("orders") == count("order_items")
    assert summary["comments"] == count("comments")
    assert all(r["quarantined"] == 0 and r["loaded"] == r["rows_read"] for r in summary["imports"].values())
    gmv = wh.con.execute("SELECT sum(amount) FROM orders").fetchall()[0][0]
    assert abs(float(gmv) - summary["gmv"]) < 0.05
    assert count("imports") >= 8  # each table was a recorded import
    lineup = wh.con.execute("SELECT len(lineup) FROM live_sessions LIMIT 1").fetchall()[0][0]
    assert lineup >= 4
    # truth lives beside the warehouse, never in it
    truth = Path(summary["truth_dir"])
    assert truth.parent == wh.path.parent / "simulator" and (truth / "users_truth.parquet").is_file()
    assert "segment" not in wh.columns("users") and "price_beta" not in wh.columns("users")
    assert Oracle.for_warehouse(wh).uplift_type("s5u0000001") in {
        "persuadable",
        "sure_thing",
        "lost_cause",
        "do_not_disturb",
    }
    again = simulate_into_warehouse(wh, scale="tiny", seed=5)
    assert all(r["loaded"] == 0 and r["duplicates"] == r["rows_read"] for r in again["imports"].values())
    assert count("events") == summary["events"]


def test_cli_simulate_to_files_and_errors(settings: Settings, tmp_path: Path) -> None:
    out = runner.invoke(
        app,
        ["simulate", "--scale", "tiny", "--seed", "2", "--days", "3", "--out", str(tmp_path / "w"), "--json"],
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["days"] == 3 and body["synthetic"] is True
    assert pq.read_metadata(tmp_path / "w" / "events.parquet").num_rows == body["events"]
    assert (tmp_path / "w" / "truth" / "world.json").is_file()
    bad = runner.invoke(app, ["simulate", "--scale", "gigantic"])
    assert isinstance(bad.exception, ValidationFailed) and bad.exception.field == "scale"
    human = runner.invoke(app, ["simulate", "--scale", "tiny", "--days", "2"])
    assert human.exit_code == 0, human.output
    assert "Synthetic world" in human.stdout and "events" in human.stdout
    assert (settings.home / "simulator" / "truth" / "world.json").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--users", "-5"], "--users"),
        (["--users", "3"], "--users"),
        (["--days", "0"], "--days"),
        (["--seed", "-1"], "--seed"),
        (["--scale", "gigantic"], "unknown scale 'gigantic'"),
        (["--out", "{file}"], "is a file, not a folder"),
        (["--out", "{file}/world"], "cannot write to the output folder"),
    ],
)
def test_cli_bad_input_is_one_line_and_a_nonzero_exit(
    settings: Settings,
    tmp_path: Path,
    args: list[str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    argv = ["liveloop", "simulate", "--scale", "tiny", *[a.format(file=blocker) for a in args]]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # no progress bar, no partial summary
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], err
    assert "Traceback" not in err
    assert not (settings.home / "simulator").exists()  # nothing was written anywhere
    assert blocker.read_text() == "x"


def test_failed_run_leaves_no_half_written_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from liveloop.datasets.simulator import SimConfig, run

    calls = {"n": 0}
    real = run.generate

    def failing(cfg: SimConfig):  # the disk fills up on day 3
        for day, chunk in real(cfg):
            if day == 2:
                raise OSError(28, "No space left on device")
            calls["n"] += 1
            yield day, chunk

    monkeypatch.setattr(run, "generate", failing)
    out = tmp_path / "world"
    with pytest.raises(OSError):
        run.simulate_to_dir(out, SimConfig.preset("tiny", seed=1))
    assert calls["n"] == 3  # the static tables and two days were written before the failure
    assert [p for p in out.rglob("*") if p.is_file()] == []
