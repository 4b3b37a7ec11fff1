"""The JSON-lines reader: typed values, nested props, malformed and truncated lines, exact line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liveloop.ingest import add_label, import_file, retry_quarantine
from liveloop.warehouse import Warehouse

GOOD = {
    "event_id": "e1",
    "ts": "2024-05-01T10:00:00+08:00",
    "user_id": "u1",
    "type": "purchase",
    "amount": 19.9,
    "quantity": 1,
    "props": {"coupon": "c1", "tags": ["新客"]},
    "text": "好评",
}


def _lines() -> list[str]:
    return [
        json.dumps(GOOD, ensure_ascii=False),  # 1 loaded
        "",  # 2 blank: not a row
        "{not json",  # 3 malformed
        "[1, 2]",  # 4 not an object
        json.dumps({**GOOD, "event_id": "e2", "type": "Teleport"}),  # 5 unknown type
        json.dumps({**GOOD, "text": "again"}),  # 6 duplicate of e1
        json.dumps({"event_id": "e4", "ts": 1714557600, "user_id": "u2", "type": "view", "x": 1}),  # 7
        '{"event_id": "e3", "ts": "2024-05-01T1',  # 8 truncated last line (no newline)
    ]


@pytest.mark.parametrize("chunk_rows", [None, 2])
def test_json_lines_every_line_accounted_for(wh: Warehouse, tmp_path: Path, chunk_rows: int | None) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(_lines()), encoding="utf-8")
    report = import_file(wh, path, chunk_rows=chunk_rows)
    assert (report.rows_read, report.loaded, report.duplicates, report.quarantined) == (7, 2, 1, 4)
    assert dict(report.by_reason) == {"malformed_json": 3, "unknown_event_type": 1}

    rows = wh.sql("SELECT line, reason, raw FROM quarantine ORDER BY line")
    assert [r[0] for r in rows] == [3, 4, 5, 8]
    assert rows[0][1].startswith("malformed_json: ") and rows[0][2] == "{not json"
    assert rows[1][1] == "malformed_json: a line must hold one JSON object"
    assert rows[3][1].startswith("malformed_json: ") and rows[3][2] == _lines()[7]

    e1 = wh.sql(
        "SELECT strftime(ts, '%H:%M'), amount, quantity, props, text FROM events WHERE event_id = 'e1'"
    )
    hhmm, amount, quantity, props, text = e1[0]
    assert (hhmm, str(amount), quantity, text) == ("02:00", "19.90", 1, "好评")  # first occurrence wins
    assert json.loads(props) == {"coupon": "c1", "tags": ["新客"]}
    assert str(wh.sql("SELECT ts FROM events WHERE event_id = 'e4'")[0][0]).startswith("2024-05-01 10:00:00")


def test_json_lines_quarantined_rows_retry_through_the_same_feed(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    import_file(wh, path)
    add_label(wh, "event_type", "teleport", "enter_room")
    again = retry_quarantine(wh)
    # the unknown type now loads; the three unparseable lines cannot be read back and stay open
    assert (again.rows_read, again.loaded, again.quarantined) == (4, 1, 3)
    assert dict(again.by_reason) == {"not_retryable": 3}
    assert wh.sql("SELECT type, props FROM events WHERE event_id = 'e2'")[0][0] == "enter_room"
