"""Each kind of bad input gets a clear quarantine reason or a clear error, and loses nothing loaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.core.errors import LiveloopError
from liveloop.ingest import import_file
from liveloop.warehouse import Warehouse


def _quarantine(wh: Warehouse) -> list[tuple[int, str, str | None]]:
    return [
        (int(line), reason, field)
        for line, reason, field in wh.sql("SELECT line, reason, field FROM quarantine ORDER BY line")
    ]


def _events(wh: Warehouse) -> set[str]:
    return {r[0] for r in wh.sql("SELECT event_id FROM events")}


def test_malformed_line_is_quarantined_with_its_raw_text(
    wh: Warehouse, write: Callable[..., Path], ev
) -> None:
    path = write("events.csv", [ev("e1"), "e2,2024-05-01,u1", ev("e3")])
    report = import_file(wh, path)
    assert (report.rows_read, report.loaded, report.quarantined) == (3, 2, 1)
    [(line, reason, field)] = _quarantine(wh)
    assert line == 3 and reason.startswith("malformed_row: expected 10 fields, got 3") and field is None
    assert wh.sql("SELECT raw FROM quarantine")[0][0] == "e2,2024-05-01,u1"


def test_unknown_event_type_names_the_value(wh: Warehouse, write: Callable[..., Path], ev) -> None:
    report = import_file(wh, write("events.csv", [ev("e1", type_="teleport"), ev("e2", type_="PV")]))
    assert report.loaded == 1 and report.by_reason == {"unknown_event_type": 1}
    [(_, reason, field)] = _quarantine(wh)
    assert "teleport" in reason and field == "type"
    assert wh.sql("SELECT type FROM events")[0][0] == "view"  # 'PV' is a known synonym


def test_millisecond_timestamps_get_a_hint_and_load_with_ts_unit_ms(wh: Warehouse, write, ev) -> None:
    path = write("events.csv", [ev("e1", ts="1714557600000"), ev("e2", ts="1714557600")])
    report = import_file(wh, path)
    assert report.loaded == 1 and report.by_reason == {"timestamp_unit": 1}
    assert "--ts-unit ms" in _quarantine(wh)[0][1]
    again = import_file(wh, write("ms.csv", [ev("e1", ts="1714557600000")]), table="events", ts_unit="ms")
    assert again.loaded == 1
    assert str(wh.sql("SELECT ts FROM events WHERE event_id = 'e1'")[0][0]).startswith("2024-05-01 10:00:00")


def test_negative_quantity_and_amount_only_for_refunds(wh: Warehouse, write, ev) -> None:
    path = write(
        "events.csv",
        [
            ev("e1", type_="add_to_cart", quantity="-2"),
            ev("e2", type_="purchase", amount="-5", quantity="1"),
            ev("e3", type_="refund", amount="-5", quantity="-1"),
        ],
    )
    report = import_file(wh, path)
    assert _events(wh) == {"e3"}
    assert report.by_reason == {"negative_quantity": 1, "negative_amount": 1}


def test_a_ten_megabyte_comment_is_quarantined_whole(wh: Warehouse, write, ev) -> None:
    """Never cut: the quarantined raw row holds the whole comment, so nothing of the source is lost."""
    from liveloop.ingest import retry_quarantine

    big = "好" * (10 * 1024 * 1024 // 3)
    report = import_file(wh, write("events.csv", [ev("e1"), ev("e2", type_="comment", text=big), ev("e3")]))
    assert (report.loaded, report.quarantined) == (2, 1)
    reason, raw = wh.sql("SELECT reason, raw FROM quarantine")[0]
    assert reason.startswith("text_too_long: text has 3495253 characters")
    row = json.loads(raw)
    assert row["text"] == big and row["event_id"] == "e2"
    again = retry_quarantine(wh)  # read back whole: still too long, for the same reason
    assert (again.rows_read, again.quarantined, dict(again.by_reason)) == (1, 1, {"text_too_long": 1})


def test_duplicate_ids_within_and_across_files(wh: Warehouse, write, ev) -> None:
    first = import_file(wh, write("a.csv", [ev("e1"), ev("e2"), ev("e1")]), table="events")
    second = import_file(wh, write("b.csv", [ev("e2"), ev("e3")]), table="events")
    assert (first.loaded, first.duplicates) == (2, 1)
    assert (second.loaded, second.duplicates) == (1, 1)
    assert wh.sql("SELECT count(*), count(DISTINCT event_id) FROM events")[0] == (3, 3)


def test_truncated_last_line(wh: Warehouse, write, ev) -> None:
    path = write("events.csv", [ev("e1"), "e2,2024-05-01 10:00:00,u1,vi"], newline_at_end=False)
    report = import_file(wh, path)
    assert (report.rows_read, report.loaded, report.quarantined) == (2, 1, 1)
    assert _quarantine(wh)[0][:2] == (3, "malformed_row: expected 10 fields, got 4")


def test_empty_file_and_header_only_file_read_nothing(wh: Warehouse, write) -> None:
    empty = write("events.csv", [], header=None, newline_at_end=False)
    report = import_file(wh, empty)
    assert report.rows_read == 0 and "empty file" in report.warnings[0]
    header_only = write("events2.csv", [])
    report = import_file(wh, header_only, table="events")
    assert (report.rows_read, report.loaded, report.status) == (0, 0, "done")


def test_missing_file_and_missing_columns_are_clear_errors(wh: Warehouse, write, tmp_path: Path) -> None:
    with pytest.raises(LiveloopError, match="file not found"):
        import_file(wh, tmp_path / "nope.csv")
    with pytest.raises(LiveloopError, match="needs the column"):
        import_file(wh, write("events.csv", ["e1,u1"], header="event_id,user_id"))
    with pytest.raises(LiveloopError, match="which table"):
        import_file(wh, write("stuff.csv", ["x"], header="a"))
    with pytest.raises(LiveloopError, match="unknown time zone"):
        import_file(wh, write("events.csv", []), source_tz="Mars/Olympus")


@pytest.mark.parametrize("given", [None, "gbk"])
def test_gbk_file_is_detected_or_declared(wh: Warehouse, write, ev, given: str | None) -> None:
    lines = [ev(f"e{i}", type_="comment", text=f"这件衣服质量很好，主播讲解很清楚{i}") for i in range(40)]
    path = write("events.csv", lines, encoding="gbk")
    report = import_file(wh, path, encoding=given)
    assert report.loaded == 40 and report.encoding in ("gb18030", "gbk")
    assert (
        wh.sql("SELECT text FROM events WHERE event_id = 'e7'")[0][0] == "这件衣服质量很好，主播讲解很清楚7"
    )


def test_bad_rows_never_touch_what_was_loaded(wh: Warehouse, write, ev) -> None:
    import_file(
        wh, write("good.csv", [ev("e1", type_="purchase", amount="10.00", quantity="1")]), table="events"
    )
    before = wh.sql("SELECT * EXCLUDE (ingested_at) FROM events")
    import_file(
        wh,
        write(
            "bad.csv",
            [ev("e1", type_="purchase", amount="99.00", quantity="1"), "garbage", ev("e2", ts="yesterday")],
        ),
        table="events",
    )
    assert wh.sql("SELECT * EXCLUDE (ingested_at) FROM events") == before


def test_source_zone_converts_naive_timestamps_to_utc(wh: Warehouse, write, ev) -> None:
    path = write("events.csv", [ev("e1", ts="2024-05-01 08:00:00"), ev("e2", ts="2024-05-01T08:00:00+00:00")])
    import_file(wh, path, source_tz="Asia/Shanghai")
    got = dict(wh.sql("SELECT event_id, strftime(ts, '%H:%M') FROM events"))
    assert got == {"e1": "00:00", "e2": "08:00"}


def test_label_mapping_and_retry(wh: Warehouse, write, ev) -> None:
    from liveloop.ingest import add_label, retry_quarantine

    import_file(wh, write("events.csv", [ev("e1", type_="teleport"), ev("e2", type_="beam")]))
    add_label(wh, "event_type", "Teleport", "enter_room")
    report = retry_quarantine(wh)
    assert (report.rows_read, report.loaded, report.quarantined) == (2, 1, 1)
    assert wh.sql("SELECT type FROM events WHERE event_id = 'e1'")[0][0] == "enter_room"
    assert dict(wh.sql("SELECT status, count(*) FROM quarantine GROUP BY 1")) == {"resolved": 1, "open": 1}


def test_an_unclosed_quote_does_not_swallow_the_lines_after_it(wh: Warehouse, write, ev) -> None:
    """pyarrow would read on to the next quote, making one value of many lines: each line stands alone."""
    path = write("events.csv", [ev("e1"), ev("e2", type_="comment", text='"oops'), ev("e3"), ev("e4")])
    report = import_file(wh, path)
    assert (report.rows_read, report.loaded, report.quarantined) == (4, 3, 1)
    assert _events(wh) == {"e1", "e3", "e4"}
    [(line, reason, _)] = _quarantine(wh)
    assert (
        line == 3
        and reason == "malformed_row: a quote is not closed on this line (values may not span lines)"
    )


def test_values_spanning_lines_are_quarantined_with_exact_line_numbers(wh: Warehouse, write, ev) -> None:
    lines = [ev("e1", type_="comment", text='"two'), 'lines",', ev("e2", text="a\rb"), ev("e3")]
    report = import_file(wh, write("events.csv", lines))
    assert (report.rows_read, report.loaded, report.quarantined) == (4, 1, 3)
    assert [(line, reason.split(":")[0]) for line, reason, _ in _quarantine(wh)] == [
        (2, "malformed_row"),
        (3, "malformed_row"),
        (4, "malformed_row"),
    ]
    assert _events(wh) == {"e3"}


def test_ids_checked_by_the_reader_still_quarantine_bad_ones(wh: Warehouse, write, ev) -> None:
    """The reader checks id columns per chunk with Arrow, and validation skips the per-row regex only
    for a chunk where every value passed: a bad id in one chunk is caught, a padded one trimmed."""
    lines = [ev(f"e{i}") for i in range(6)]
    lines[3] = ev("e 3")  # chunk 2 of 3: not an id
    lines[4] = ev(" e4")  # chunk 3: fails the reader's check, trimmed by validation, loads
    report = import_file(wh, write("events.csv", lines), chunk_rows=2)
    assert (report.loaded, report.quarantined) == (5, 1)
    [(line, reason, field)] = _quarantine(wh)
    assert (line, field) == (5, "event_id") and reason.startswith("bad_id: event_id=e 3")
    assert _events(wh) == {"e0", "e1", "e2", "e4", "e5"}


def test_the_reader_marks_the_chunks_whose_ids_are_all_well_formed(write, ev) -> None:
    from liveloop.ingest.readers import CsvReader

    reader = CsvReader(write("events.csv", [ev("e1", user="u 1"), ev("e2"), ev("e3"), ev("")]), chunk_rows=2)
    reader.check_ids = ("event_id", "user_id")
    assert [c.ids_ok for c in reader] == [frozenset({"event_id"}), frozenset({"event_id", "user_id"})]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab9_.:@-", max_size=130),  # ids, and ids too long by a character or two
            st.text(max_size=6),  # anything: spaces, non-ASCII, control characters
        ),
        max_size=8,
    ),
    st.integers(0, 3),
)
def test_the_readers_byte_check_of_ids_gives_the_regexs_verdict(values: list[str], start: int) -> None:
    """``_all_ids`` (one pass over the values' bytes) agrees with ``WELL_FORMED_IDS`` on every array,
    sliced ones too (their data starts inside the buffer)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from liveloop.ingest.readers import _all_ids
    from liveloop.ingest.validate import WELL_FORMED_IDS

    values = pa.array(values, pa.string()).slice(min(start, len(values)))
    expected = pc.all(pc.match_substring_regex(values, WELL_FORMED_IDS)).as_py() is not False
    assert _all_ids(values) is expected


def test_validation_skips_the_id_regex_only_for_checked_columns() -> None:
    from liveloop.ingest.adapters.native import native_target
    from liveloop.ingest.validate import Options, id_sources, validation_sql

    target = native_target("events", ["event_id", "ts", "user_id", "type"])
    assert id_sources([target], ["event_id", "ts", "user_id", "type"]) == ("event_id", "user_id")
    sql = validation_sql(target, "_src", Options(latest="2030-01-01 00:00:00+00"), ids_ok=["event_id"])
    assert 'regexp_full_match("_s_event_id"' not in sql and 'regexp_full_match("_s_user_id"' in sql
    assert '"_s_event_id" IS NULL THEN' in sql  # still required
    assert """NULLIF(CAST("event_id" AS VARCHAR), '')""" in sql  # an id has no spaces to trim
    assert """CAST("user_id" AS VARCHAR) LIKE ' %'""" in sql


def test_an_empty_id_in_a_checked_column_is_still_missing(wh: Warehouse, write, ev) -> None:
    """The reader's id check passes an empty value; validation then skips the trim, not the rule."""
    report = import_file(wh, write("events.csv", [ev("e1"), ev("")]))
    assert (report.loaded, report.quarantined) == (1, 1)
    [(line, reason, field)] = _quarantine(wh)
    assert (line, field) == (3, "event_id") and reason.startswith("missing_required")


def test_columns_the_file_lacks_get_the_table_defaults(wh: Warehouse, write) -> None:
    """Fields no source row fills are left out of the insert: NOT NULL columns take their defaults,
    the others stay NULL, and the columns the file has are stored as given."""
    path = write(
        "orders.csv",
        ["o1,u1,2024-05-01 10:00:00,19.90", "o2,u2,2024-05-01 11:00:00,5.00"],
        header="order_id,user_id,ts,amount",
    )
    assert import_file(wh, path).loaded == 2
    rows = wh.sql("SELECT order_id, status, currency, amount, channel, source FROM orders ORDER BY 1")
    assert [r[:5] for r in rows] == [
        ("o1", "paid", "CNY", Decimal("19.90"), None),
        ("o2", "paid", "CNY", Decimal("5.00"), None),
    ]
    assert {r[5] for r in rows} == {"orders.csv"}


def test_validation_yields_only_the_fields_the_source_fills_when_asked() -> None:
    from liveloop.ingest.adapters.native import native_target
    from liveloop.ingest.validate import Options, validation_sql

    target = native_target("events", ["event_id", "ts", "user_id", "type"])
    opt = Options(latest="2030-01-01 00:00:00+00")
    every = validation_sql(target, "_src", opt).rsplit(" FROM r", 1)[0]
    some = validation_sql(target, "_src", opt, present_only=True).rsplit(" FROM r", 1)[0]
    assert '"category"' in every and '"props"' in every
    assert some.endswith('SELECT _line, _rule, "event_id", "ts", "user_id", "type"')


def test_non_finite_numbers_in_props_are_stored_as_valid_json(wh) -> None:
    from liveloop.ingest import ingest_records

    record = {
        "event_id": "nan-1",
        "ts": "2026-11-11T12:00:00+08:00",
        "user_id": "u1",
        "type": "view",
        "props": {"x": float("nan"), "y": [1, float("inf")], "z": "ok"},
    }
    assert ingest_records(wh, "events", [record], source="t").accepted == 1
    props, valid = wh.sql("SELECT CAST(props AS VARCHAR), json_valid(props) FROM events")[0]
    assert valid and json.loads(props) == {"x": None, "y": [1, None], "z": "ok"}


def test_a_header_that_never_ends_or_is_too_wide_is_one_clear_error(wh: Warehouse, tmp_path: Path) -> None:
    import gzip

    from liveloop.ingest.readers import MAX_COLUMNS, MAX_HEADER_BYTES

    zeros = tmp_path / "events.csv.gz"
    with gzip.open(zeros, "wb", compresslevel=1) as fh:  # NUL bytes, no line end: read in bounded memory
        fh.write(b"\0" * (MAX_HEADER_BYTES * 3))
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\n1\n")
    for path, words in ((zeros, "longer than"), (wide, "columns")):
        with pytest.raises(LiveloopError) as refused:
            import_file(wh, path, adapter="native", table="events")
        assert words in refused.value.detail and refused.value.field == "header"
    assert wh.sql("SELECT count(*) FROM events") == [(0,)]


def test_an_offset_no_place_has_is_a_bad_timestamp(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,ts,user_id,type\n"
        "o1,2026-11-11 12:00:00+99:00,u1,view\n"
        "o2,2026-11-11 12:00:00+15:00,u1,view\n"
        "o3,2026-11-11 12:00:00+14:00,u1,view\n"
        "o4,2026-11-11T12:00:00-0330,u1,view\n"
    )
    report = import_file(wh, path, adapter="native")
    assert (report.loaded, report.quarantined) == (2, 2)
    assert set(report.by_reason) == {"bad_timestamp"}
