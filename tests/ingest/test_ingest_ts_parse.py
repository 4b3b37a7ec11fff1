"""The CSV reader parses the common timestamp shape with Arrow; validation then parses only the rest.

Where the reader parsed a value, every verdict (the time, the rule broken, the reason) must be the one
the validation query gives the same text on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.ingest import import_file
from liveloop.ingest.adapters.native import native_target
from liveloop.ingest.readers import CsvReader
from liveloop.ingest.validate import PARSED_TS, Options, ts_sources, validation_sql
from liveloop.warehouse import Warehouse

TRICKY = [
    "2024-05-01 10:00:00",
    "2024-05-01T10:00:00",
    "2024-02-29 23:59:59",
    "2023-02-29 00:00:00",  # no such day: Arrow refuses the chunk's column, validation says bad_timestamp
    "2024-05-01 24:00:00",
    "2024-05-01 23:59:60",
    "0000-01-01 00:00:00",  # out of range
    "9999-12-31 23:59:59",  # in the future
    "2024-05-01 10:00+08",  # 19 characters, another shape
    "2024-5-1 10:00:00.5",
    "1714557600",
    "1714557600000",  # milliseconds
    "2024-05-01 10:00:00+08:00",
    "2024/05/01 10:00:00",
    " 2024-05-01 10:00:0",
    "not a time at all!!",
    "",
]

_SHAPED = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\Z")
_NEAR = st.text(alphabet="0123456789-: T+Z", min_size=17, max_size=21)


def _verdicts(
    wh: Warehouse, path: Path, zone: str
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], frozenset[str]]:
    """(line, rule, ts, reason) per row, with the reader's parse and without, and what it parsed."""
    reader = CsvReader(path, chunk_rows=10_000)
    target = native_target("events", reader.columns)
    reader.parse_ts = ts_sources([target], reader.columns)
    [chunk] = list(reader)
    opt = Options(source_tz=zone, latest="2030-01-01 00:00:00+00")
    con = wh.con  # the warehouse's DuckDB file, session time zone UTC
    con.register("_src", chunk.table)
    out = []
    for parsed in (chunk.ts_parsed, ()):
        sql = validation_sql(target, "_src", opt, reasons=True, ts_parsed=parsed)
        out.append(con.execute(f"SELECT _line, _rule, ts, _reason FROM ({sql}) ORDER BY _line").fetchall())
    con.unregister("_src")
    return out[0], out[1], chunk.ts_parsed


def _file(write: Callable[..., Path], ev: Callable[..., str], values: list[str]) -> Path:
    return write("events.csv", [ev(f"e{i}", ts=v) for i, v in enumerate(values)])


def test_the_reader_parses_only_the_common_shape(write, ev) -> None:
    reader = CsvReader(_file(write, ev, ["2024-05-01 10:00:00", "1714557600", "2024-05-01T10:00:00", ""]))
    reader.parse_ts = ("ts",)
    [chunk] = list(reader)
    assert chunk.ts_parsed == frozenset({"ts"})
    assert chunk.table[PARSED_TS.format("ts")].null_count == 2
    assert "_line" not in chunk.source_columns and PARSED_TS.format("ts") not in chunk.source_columns
    assert chunk.source_columns == reader.columns


def test_a_value_of_the_shape_that_is_no_time_leaves_the_column_to_validation(write, ev) -> None:
    reader = CsvReader(_file(write, ev, ["2024-05-01 10:00:00", "2023-02-29 00:00:00"]))
    reader.parse_ts = ("ts",)
    [chunk] = list(reader)
    assert chunk.ts_parsed == frozenset() and chunk.source_columns == reader.columns


def test_tricky_timestamps_get_the_same_verdicts(wh: Warehouse, write, ev) -> None:
    for zone in ("UTC", "Asia/Shanghai"):
        good = [v for v in TRICKY if v != "2023-02-29 00:00:00"]
        with_parse, without, parsed = _verdicts(wh, _file(write, ev, good), zone)
        assert parsed == frozenset({"ts"})
        assert with_parse == without
        assert sum(r[1] is None for r in with_parse) >= 4  # some rows load, some do not
        with_parse, without, parsed = _verdicts(wh, _file(write, ev, TRICKY), zone)
        assert parsed == frozenset() and with_parse == without


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(_SHAPED, _NEAR), min_size=1, max_size=12))
def test_any_timestamp_text_gets_the_same_verdict(wh: Warehouse, write, ev, values: list[str]) -> None:
    with_parse, without, _ = _verdicts(wh, _file(write, ev, values), "UTC")
    assert with_parse == without


def test_quarantined_rows_show_only_the_source_columns(wh: Warehouse, write, ev) -> None:
    path = write("events.csv", [ev("e1"), ev("e2", type_="teleport"), ev("e3", ts="1714557600000")])
    report = import_file(wh, path)
    assert (report.loaded, report.quarantined) == (1, 2)
    raws = [json.loads(r[0]) for r in wh.sql("SELECT raw FROM quarantine ORDER BY line")]
    assert [sorted(r) for r in raws] == [sorted(CsvReader(path).columns)] * 2
    assert raws[0]["ts"] == "2024-05-01 10:00:00" and raws[1]["ts"] == "1714557600000"
