"""``import_dataset``: a real data set through its adapter into a real warehouse, every row accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets import import_dataset
from liveloop.warehouse import Warehouse


def test_taobao_head_is_imported_and_accounted_for(wh: Warehouse, data_home: Path) -> None:
    settings = Settings(data_home=data_home)
    report = import_dataset(wh, "taobao_userbehavior_head", settings=settings)
    body = report.to_dict()
    assert body["rows_read"] == 84_475
    assert body["rows_read"] == body["loaded"] + body["duplicates"] + body["quarantined"]
    assert body["quarantined"] > 0  # the raw file's out-of-range timestamps
    assert body["files"][0]["by_reason"] == {"timestamp_out_of_range": body["quarantined"]}
    events = wh.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert events == body["loaded"]
    again = import_dataset(wh, "taobao_userbehavior_head", settings=settings)
    assert again.loaded == 0 and again.duplicates == body["loaded"]


def test_dataset_without_adapter_is_refused(wh: Warehouse, data_home: Path) -> None:
    with pytest.raises(ValidationFailed, match="has no import adapter"):
        import_dataset(wh, "waimai_10k", settings=Settings(data_home=data_home))
