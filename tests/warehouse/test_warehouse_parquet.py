"""Parquet export and import: a round trip restores every table exactly; a second import loads nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from liveloop.core.config import Settings
from liveloop.ingest import import_file, ingest_records
from liveloop.warehouse import Warehouse, export_parquet, import_parquet

ROWS = 3
#: 23:30 UTC is 07:30 the next day in China: the partition is the UTC date.
FIRST_TS = datetime(2024, 5, 1, 23, 30, 0, 123456, tzinfo=UTC)


def _value(data_type: str, column: str, i: int) -> Any:
    """A value of ``data_type`` for row ``i``: quotes, Chinese text, bytes 0 and 255, nested JSON, NULLs."""
    if data_type == "VARCHAR":
        return f"{column}-{i}-中文'\"x"
    if data_type == "VARCHAR[]":
        return ["p1", f"商品'{i}", None]
    if data_type == "JSON":
        return f'{{"i": {i}, "k": ["二", null, 1.5]}}'
    if data_type == "TIMESTAMP WITH TIME ZONE":
        return FIRST_TS + timedelta(days=i, microseconds=i)
    if data_type == "DATE":
        return FIRST_TS.date() + timedelta(days=i)
    if data_type in ("INTEGER", "BIGINT"):
        return i + 1
    if data_type == "DOUBLE":
        return i + 0.1
    if data_type == "DECIMAL(18,2)":
        return Decimal(f"{i - 1}.25")
    if data_type == "BOOLEAN":
        return i % 2 == 0
    if data_type == "BLOB":
        return bytes([0, 255, i])
    raise AssertionError(f"add a value for the new column type {data_type} ({column}) to this test")


def _fill_every_table(wh: Warehouse) -> None:
    """ROWS rows in every table of the schema; the last leaves every nullable column NULL."""
    for table in wh.tables():
        cols = wh.sql(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        )
        names = ", ".join(f'"{c}"' for c, _, _ in cols)
        marks = ", ".join("?" for _ in cols)
        for i in range(ROWS):
            values = [
                None if i == ROWS - 1 and nullable == "YES" else _value(t, c, i) for c, t, nullable in cols
            ]
            wh.sql(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', values)


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, every column (JSON compared as text)."""
    out = {}
    for table in wh.tables():
        out[table] = wh.sql(f'SELECT * FROM "{table}" ORDER BY ALL')
    return out


def test_every_table_round_trips_exactly(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    _fill_every_table(wh)
    before = _snapshot(wh)
    assert len(before) >= 21 and all(len(rows) == ROWS for rows in before.values())
    out = tmp_path / "lake"
    counts = export_parquet(wh, out)
    assert counts == {table: ROWS for table in before}
    # events by UTC date: 2024-05-01 23:30 UTC is in date=2024-05-01, not in China's 2024-05-02
    days = sorted(p.name for p in (out / "events").iterdir())
    assert days == ["date=2024-05-01", "date=2024-05-02", "date=2024-05-03"]
    assert pq.read_table(next((out / "events" / "date=2024-05-01").glob("*.parquet"))).num_rows == 1
    assert {p.name for p in out.glob("*.parquet")} == {f"{t}.parquet" for t in before if t != "events"}

    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        result = import_parquet(fresh, out)
        assert result == {table: {"read": ROWS, "loaded": ROWS, "duplicates": 0} for table in before}
        assert _snapshot(fresh) == before
        again = import_parquet(fresh, out)
        assert all(r == {"read": ROWS, "loaded": 0, "duplicates": ROWS} for r in again.values())
        assert _snapshot(fresh) == before


def test_imported_rows_round_trip(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    """Rows written by ingest (encrypted PII, quarantine, imports, lists) come back byte for byte."""
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,ts,user_id,type,product_id,amount,quantity,props\n"
        "e1,2024-05-01 10:00:00,u1,view,p1,,,\n"
        'e2,2024-05-02 11:00:00,u1,purchase,p1,19.90,1,"{""coupon"": ""c1""}"\n'
        "e3,2024-05-02 12:00:00,u2,refund,p1,-19.90,-1,\n"
        "e4,2024-05-03,u2,warp,p1,,,\n"
    )
    import_file(wh, events)
    ingest_records(
        wh, "users", [{"user_id": "u1", "phone": "13800138000", "email": "a@b.cn", "gender": "女"}]
    )
    ingest_records(
        wh,
        "live_sessions",
        [
            {
                "session_id": "s1",
                "host_id": "h1",
                "start_ts": "2024-05-01T20:00:00+08:00",
                "lineup": ["p1", "p2"],
            }
        ],
    )
    before = _snapshot(wh)
    out = tmp_path / "lake"
    export_parquet(wh, out)
    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        import_parquet(fresh, out)
        assert _snapshot(fresh) == before


def test_a_second_export_replaces_the_first(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    """Events deleted since an earlier export into the same directory do not come back from stale files."""
    _fill_every_table(wh)
    out = tmp_path / "lake"
    export_parquet(wh, out)
    wh.sql("DELETE FROM events WHERE ts < ?", [FIRST_TS + timedelta(hours=1)])
    export_parquet(wh, out)
    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        assert import_parquet(fresh, out)["events"]["read"] == ROWS - 1
        assert _snapshot(fresh)["events"] == _snapshot(wh)["events"]


def test_restored_sequences_do_not_collide(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    """After a restore, new quarantine rows get fresh ids (the id sequence moved past the restored ones)."""
    ingest_records(wh, "events", [{"event_id": "x", "ts": "soon", "user_id": "u1", "type": "view"}])
    export_parquet(wh, tmp_path / "lake")
    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        import_parquet(fresh, tmp_path / "lake")
        result = ingest_records(
            fresh, "events", [{"event_id": "y", "ts": "later", "user_id": "u1", "type": "view"}]
        )
        assert result.rejected == 1
        assert fresh.sql("SELECT count(DISTINCT quarantine_id) FROM quarantine")[0][0] == 2


def test_import_parquet_refuses_what_is_not_an_export(wh: Warehouse, tmp_path: Path) -> None:
    from liveloop.core.errors import LiveloopError

    with pytest.raises(LiveloopError, match="not a directory"):
        import_parquet(wh, tmp_path / "missing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.parquet").write_bytes(b"")
    with pytest.raises(LiveloopError, match="no liveloop Parquet tables"):
        import_parquet(wh, tmp_path / "other")
    with pytest.raises(LiveloopError, match="it is a file, not a directory"):
        export_parquet(wh, tmp_path / "other" / "notes.parquet")


def test_a_damaged_export_imports_nothing(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    from liveloop.core.errors import LiveloopError

    _fill_every_table(wh)
    out = tmp_path / "lake"
    export_parquet(wh, out)
    (out / "users.parquet").write_bytes(b"not parquet at all")
    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        with pytest.raises(LiveloopError, match="cannot import users from the Parquet export"):
            import_parquet(fresh, out)
        assert all(rows == [] for rows in _snapshot(fresh).values())  # all tables or none
