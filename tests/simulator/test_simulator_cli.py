"""``liveloop simulate`` and ``simulate_into_warehouse``: through ingest into a real warehouse, idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from liveloop.cli.main import app
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
