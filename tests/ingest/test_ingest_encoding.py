"""Text encodings: short GBK files are detected; bytes that do not decode are quarantined, not replaced."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from liveloop.core.errors import LiveloopError
from liveloop.ingest import import_file
from liveloop.ingest.readers import _SAMPLE, detect_encoding
from liveloop.warehouse import Warehouse


@pytest.mark.parametrize("text", ["好", "质量很好", "主播讲解很清楚，已下单！"])
def test_a_one_row_gbk_file_is_read_as_gb18030(
    wh: Warehouse, write: Callable[..., Path], ev, text: str
) -> None:
    path = write("events.csv", [ev("e1", type_="comment", text=text)], encoding="gbk")
    assert detect_encoding(path) == "gb18030"
    report = import_file(wh, path)
    assert (report.loaded, report.encoding) == (1, "gb18030")
    assert wh.sql("SELECT text FROM events")[0][0] == text


def test_latin1_text_is_not_taken_for_chinese(tmp_path: Path) -> None:
    """'Müller Straße' decodes as GB18030 (rare Hanzi) but does not read as Chinese: not guessed as GB."""
    path = tmp_path / "users.csv"
    path.write_bytes("user_id,region\nu1,Müller Straße\nu2,Hauptstraße\n".encode("latin-1"))
    assert path.read_bytes().decode("gb18030")  # the trap: it decodes cleanly
    assert detect_encoding(path) != "gb18030"


def test_declared_encoding_wins(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes("product_id,title\np1,Café Müller\n".encode("latin-1"))
    report = import_file(wh, path, encoding="latin-1")
    assert report.loaded == 1 and report.encoding == "iso8859-1"
    assert wh.sql("SELECT title FROM products")[0][0] == "Café Müller"


def test_gbk_bytes_past_the_sample_are_quarantined_not_replaced(
    wh: Warehouse, write: Callable[..., Path], ev
) -> None:
    """A UTF-8 file whose last line is GBK, beyond the 256 KB the encoding is detected from."""
    rows = [ev(f"e{i}", type_="comment", text=f"质量很好{i}") for i in range(6_000)]
    path = write("events.csv", rows)
    gbk_line = ev("e-gbk", type_="comment", text="好").encode("gbk")
    with path.open("ab") as fh:
        fh.write(gbk_line + b"\n" + ev("e-after").encode() + b"\n")
    assert path.stat().st_size > _SAMPLE + 100_000
    report = import_file(wh, path, chunk_rows=2_500)
    assert report.encoding == "utf-8"
    assert (report.rows_read, report.loaded, report.quarantined) == (6_002, 6_001, 1)
    assert report.balanced and dict(report.by_reason) == {"invalid_encoding": 1}
    line, raw, reason = wh.sql("SELECT line, raw, reason FROM quarantine")[0]
    assert line == 6_002  # the header is line 1
    assert raw == "e-gbk,2024-05-01 10:00:00,u1,comment,p1,live,,,\\xba\\xc3,"  # the bytes, escaped
    at = gbk_line.index(b"\xba") + 1
    assert reason.startswith(f"invalid_encoding: byte {at} (0xba) is not valid utf-8")
    assert "--encoding gb18030" in reason
    assert "\ufffd" not in "".join(r[0] or "" for r in wh.sql("SELECT text FROM events"))
    assert wh.sql("SELECT count(*) FROM events WHERE event_id IN ('e-gbk', 'e-after')")[0][0] == 1

    again = import_file(wh, path, chunk_rows=2_500)
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 6_001, 1)
    assert wh.sql("SELECT count(*) FROM quarantine")[0][0] == 1  # no second copy


def test_a_utf8_line_in_a_gbk_file_is_quarantined(wh: Warehouse, write: Callable[..., Path], ev) -> None:
    lines = [ev(f"e{i}", type_="comment", text="这件衣服质量很好") for i in range(20)]
    path = write("events.csv", lines, encoding="gbk")
    with path.open("ab") as fh:
        fh.write(ev("e-utf8", type_="comment", text="好").encode() + b"\n")
    report = import_file(wh, path)
    assert (report.encoding, report.loaded, report.quarantined) == ("gb18030", 20, 1)
    reason = wh.sql("SELECT reason FROM quarantine")[0][0]
    assert "not valid gb18030" in reason and "--encoding utf-8" in reason


def test_a_gbk_line_in_a_small_utf8_file_is_quarantined(
    wh: Warehouse, write: Callable[..., Path], ev
) -> None:
    """Inside the sample too: most lines are UTF-8, so the file is UTF-8 and the odd line is quarantined."""
    lines = [ev(f"e{i}", type_="comment", text="质量很好") for i in range(3)]
    path = write("events.csv", lines)
    with path.open("ab") as fh:
        fh.write(ev("e-gbk", type_="comment", text="好").encode("gbk") + b"\n")
    report = import_file(wh, path)
    assert (report.encoding, report.loaded, dict(report.by_reason)) == ("utf-8", 3, {"invalid_encoding": 1})
    assert {r[0] for r in wh.sql("SELECT text FROM events")} == {"质量很好"}


def test_json_lines_with_undecodable_bytes(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = {
        "event_id": "e1",
        "ts": "2024-05-01T10:00:00Z",
        "user_id": "u1",
        "type": "comment",
        "text": "好评",
    }
    bad = json.dumps({**good, "event_id": "e2", "text": "好"}, ensure_ascii=False).encode("gbk")
    path.write_bytes(json.dumps(good, ensure_ascii=False).encode() + b"\n" + bad + b"\n")
    report = import_file(wh, path)
    assert (report.rows_read, report.loaded, dict(report.by_reason)) == (2, 1, {"invalid_encoding": 1})
    assert wh.sql("SELECT line FROM quarantine")[0][0] == 2


def test_an_undecodable_header_is_a_clear_error(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes("event_id,ts,user_id,type,评论\n".encode("gbk"))
    with pytest.raises(LiveloopError, match=r"header line of events\.csv is not valid utf-8"):
        import_file(wh, path, encoding="utf-8")


def test_a_malformed_line_with_undecodable_bytes_is_reported_quietly(
    wh: Warehouse, write: Callable[..., Path], ev, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow cannot hand such a line to its invalid-row handler (it fails decoding it): checked first."""
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    path = write("events.csv", [ev("e1"), ev("e2")])
    with path.open("ab") as fh:
        fh.write(b"e3,\xba\xc3\n" + ev("e4").encode() + b"\n")
    report = import_file(wh, path, encoding="utf-8")
    assert (report.rows_read, report.loaded, dict(report.by_reason)) == (4, 3, {"invalid_encoding": 1})
    assert unraisable == []
