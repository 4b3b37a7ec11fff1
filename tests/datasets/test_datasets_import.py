"""``liveloop import --dataset NAME``: a real data set through its adapter into a real warehouse, end to end
through the CLI, every row accounted for (expectations computed from the raw files)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from liveloop.cli.main import app
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.core.errors import ValidationFailed
from liveloop.datasets import catalog, import_dataset
from liveloop.datasets.loader import IMPORT_FILES
from liveloop.ingest import ADAPTERS
from liveloop.warehouse import Warehouse

runner = CliRunner()
#: UserBehavior's documented days, 2017-11-25 .. 2017-12-03 China time, in UTC.
CHINA_WINDOW = (datetime(2017, 11, 24, 16, tzinfo=UTC), datetime(2017, 12, 3, 16, tzinfo=UTC))


@pytest.fixture
def cli_home(tmp_path: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", generate_key())
    monkeypatch.setenv("LIVELOOP_DATA_HOME", str(data_home))
    return home


def _cli(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _balanced(body: dict[str, Any]) -> bool:
    return body["rows_read"] == body["loaded"] + body["duplicates"] + body["quarantined"]


def test_cli_import_taobao_head_accounts_for_every_row(cli_home: Path, data_home: Path) -> None:
    raw = data_home / "taobao_userbehavior_head" / "UserBehavior_head84k.csv"
    rows = list(csv.reader(raw.read_text().splitlines()))
    outside = [
        i + 1
        for i, r in enumerate(rows)
        if not CHINA_WINDOW[0] <= datetime.fromtimestamp(int(r[4]), UTC) < CHINA_WINDOW[1]
    ]
    out = set(outside)
    distinct_inside = len({tuple(r) for i, r in enumerate(rows) if i + 1 not in out})

    body = _cli("import", "--dataset", "taobao_userbehavior_head")
    assert (body["dataset"], body["adapter"]) == ("taobao_userbehavior_head", "taobao")
    assert body["rows_read"] == len(rows) == 84_475 and _balanced(body)
    assert body["quarantined"] == len(outside) > 0
    assert body["files"][0]["by_reason"] == {"timestamp_out_of_range": len(outside)}
    assert (
        body["loaded"] == distinct_inside and body["duplicates"] == len(rows) - len(outside) - distinct_inside
    )

    quarantined = _cli("quarantine", "list", "--limit", "1000")
    assert sorted(q["line"] for q in quarantined) == outside
    assert all(q["reason"].startswith("timestamp_out_of_range: ") for q in quarantined)
    assert all("outside the data set window" in q["reason"] for q in quarantined)
    status = _cli("status")
    assert status["tables"]["events"]["rows"] == body["loaded"]
    assert status["quarantine_by_reason"] == {"timestamp_out_of_range": len(outside)}

    again = _cli("import", "--dataset", "taobao_userbehavior_head")
    assert (again["rows_read"], again["loaded"], again["quarantined"]) == (len(rows), 0, len(outside))
    assert again["duplicates"] == body["loaded"] + body["duplicates"] and _balanced(again)
    status = _cli("status")
    assert status["tables"]["events"]["rows"] == body["loaded"]
    assert status["quarantine_open"] == len(outside)  # no second copy of the quarantined rows


def test_cli_import_tianchi_mobile_sample(cli_home: Path, data_home: Path) -> None:
    """Another adapter's data set: the behaviour file brings its item file along."""
    folder = data_home / "tianchi_mobile_rec_sample"
    behaviours = list(csv.DictReader((folder / "sample_user_behavior.csv").read_text().splitlines()))
    items = list(csv.DictReader((folder / "sample_item_info.csv").read_text().splitlines()))
    body = _cli("import", "--dataset", "tianchi_mobile_rec_sample")
    assert body["rows_read"] == len(behaviours) + len(items) and _balanced(body)
    status = _cli("status")
    assert 0 < status["tables"]["events"]["rows"] <= len(behaviours)
    assert status["tables"]["products"]["rows"] >= len({r["item_id"] for r in items})
    again = _cli("import", "--dataset", "tianchi_mobile_rec_sample")
    assert again["loaded"] == 0 and again["rows_read"] == body["rows_read"] and _balanced(again)


def test_every_adapted_data_set_names_files_its_adapter_reads(data_home: Path) -> None:
    """Every data set with an adapter: its import files are catalogued and the adapter reads them."""
    adapted = {name for name, d in catalog().items() if d.adapter}
    assert adapted == set(IMPORT_FILES)
    for name in adapted:
        listed = {f.name for f in catalog()[name].files}
        for filename in IMPORT_FILES[name]:
            assert filename in listed, (name, filename)
            assert ADAPTERS[str(catalog()[name].adapter)].resolve(data_home / name / filename)


def test_dataset_without_adapter_is_refused(wh: Warehouse, data_home: Path) -> None:
    with pytest.raises(ValidationFailed, match="has no import adapter"):
        import_dataset(wh, "waimai_10k", settings=Settings(data_home=data_home))


def test_cli_unknown_dataset_is_one_clear_error(cli_home: Path) -> None:
    result = runner.invoke(app, ["import", "--dataset", "no_such_set", "--json"])
    assert result.exit_code != 0 and "unknown data set 'no_such_set'" in str(result.exception)
