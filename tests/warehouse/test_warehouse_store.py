"""The Warehouse helpers: query results without DuckDB warnings, appends by column name, rollback."""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from liveloop.warehouse import Warehouse, first_row


def test_query_helpers_raise_no_duckdb_warnings(wh: Warehouse) -> None:
    wh.sql("INSERT INTO label_map VALUES ('region', 'sh', '上海'), ('region', 'bj', '北京')")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecation or extra-copy warning fails the test
        table = wh.arrow("SELECT raw, canonical FROM label_map WHERE kind = ? ORDER BY raw", ["region"])
        named = wh.arrow("SELECT count(*) AS n FROM label_map WHERE raw = $raw", {"raw": "sh"})
        plain = wh.arrow("SELECT 1 AS one")
        frame = wh.df("SELECT raw FROM label_map WHERE canonical = ?", ["北京"])
        rows = wh.sql("SELECT count(*) FROM label_map")
    assert table.to_pylist() == [{"raw": "bj", "canonical": "北京"}, {"raw": "sh", "canonical": "上海"}]
    assert named.to_pylist() == [{"n": 1}] and plain.num_rows == 1
    assert frame["raw"].tolist() == ["bj"] and rows == [(2,)]


def test_append_by_column_name_with_defaults(wh: Warehouse) -> None:
    data = pa.table(
        {"type": ["view"], "user_id": ["u1"], "event_id": ["e1"], "ts": ["2024-05-01 00:00:00+00"]}
    )
    assert wh.append("events", data) == 1
    assert wh.append("events", data.slice(0, 0)) == 0
    event_id, user_id, ingested = wh.sql("SELECT event_id, user_id, ingested_at FROM events")[0]
    assert (event_id, user_id) == ("e1", "u1") and ingested is not None


def test_transaction_rolls_back_on_any_exception(wh: Warehouse) -> None:
    with pytest.raises(KeyboardInterrupt), wh.transaction() as con:
        con.execute("INSERT INTO label_map VALUES ('region', 'sh', '上海')")
        raise KeyboardInterrupt
    assert wh.sql("SELECT count(*) FROM label_map") == [(0,)]


def test_first_row_leaves_the_connection_free_for_relations(wh: Warehouse) -> None:
    """DuckDB 2 keeps a result half-read by fetchone open; the next relation on the connection fails."""
    con = wh.con
    assert first_row(con.execute("SELECT * FROM range(3)")) == (0,)
    assert con.sql("SELECT 42").fetchall() == [(42,)]  # would raise after a bare fetchone()
    assert first_row(con.execute("SELECT * FROM range(0)")) is None


def test_schema_lookups_are_safe_beside_other_threads(wh: Warehouse) -> None:
    """tables()/columns()/key_columns() share the connection's lock with sql() (they used it bare)."""
    import threading

    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(150):
                if i % 2:
                    assert "events" in wh.tables() and "user_id" in wh.columns("events")
                    assert wh.key_columns("schema_version") == ["version"]
                else:
                    wh.sql("SELECT count(*) FROM events")
        except BaseException as exc:  # collected and re-raised on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_ibis_reads_run_beside_writes_on_other_threads(wh: Warehouse) -> None:
    """Ibis expressions (profiles, analytics) on one thread while another writes: each thread has its own
    backend (one on the shared connection failed with "connection is busy" under a served CLI command)."""
    import threading

    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            n = 0
            while not stop.is_set():
                with wh.transaction() as con:
                    con.execute("INSERT INTO hosts (host_id, name) VALUES (?, 'x')", [f"h{n}"])
                n += 1
        except BaseException as exc:  # collected and re-raised on the main thread
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(60):
                wh.table("hosts").count().execute()
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read) for _ in range(2)]
    writer.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    writer.join()
    assert errors == []
    assert wh.table("hosts").count().execute() == wh.sql("SELECT count(*) FROM hosts")[0][0] > 0


def test_a_new_home_and_warehouse_are_private(tmp_path: Path) -> None:
    import stat

    from liveloop.core.config import Settings
    from liveloop.warehouse import init_home

    settings = Settings(home=tmp_path / "new-home")
    init_home(settings)
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700  # the WAL and models inherit the folder
    assert stat.S_IMODE(settings.db_path.stat().st_mode) == 0o600


def test_duckdb_gets_a_memory_limit_and_a_bad_one_is_one_clear_error(tmp_path: Path) -> None:
    from liveloop.core.config import Settings
    from liveloop.core.errors import LiveloopError

    with Warehouse.open(Settings(home=tmp_path / "a", duckdb_memory="1GB")) as wh:
        assert wh.sql("SELECT current_setting('memory_limit')")[0][0].startswith("953")  # 1 GB in MiB
    import duckdb

    def size(text: str) -> float:
        number, unit = text.split()
        return float(number) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]

    with Warehouse.open(Settings(home=tmp_path / "b")) as wh:  # the default: half the RAM, not 80%
        ours = size(wh.sql("SELECT current_setting('memory_limit')")[0][0])
    duckdbs = size(duckdb.connect().sql("SELECT current_setting('memory_limit')").fetchall()[0][0])
    assert abs(ours / duckdbs - 0.5 / 0.8) < 0.02
    with pytest.raises(LiveloopError) as bad:
        Warehouse.open(Settings(home=tmp_path / "c", duckdb_memory="lots"))
    assert bad.value.field == "LIVELOOP_DUCKDB_MEMORY"
