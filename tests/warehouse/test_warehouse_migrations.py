"""Migrations: an older file is upgraded in place; a file from a newer liveloop is refused clearly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from liveloop.core.errors import WarehouseVersionError
from liveloop.warehouse import LATEST_VERSION, Warehouse
from liveloop.warehouse.migrations import MIGRATIONS


def _v1_file(path: Path) -> None:
    """A warehouse as the first release wrote it: schema version 1 and one event."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT now())"
    )
    con.execute(MIGRATIONS[0][2])
    con.execute("INSERT INTO schema_version (version, description) VALUES (1, 'v1')")
    con.execute(
        "INSERT INTO events (event_id, ts, user_id, type) "
        "VALUES ('e1', '2024-05-01 00:00:00+00', 'u1', 'view')"
    )
    con.close()


def test_older_file_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _v1_file(path)
    with Warehouse(path) as wh:
        assert wh.schema_version() == LATEST_VERSION > 1
        assert "feed" in wh.columns("quarantine")
        assert wh.sql("SELECT event_id FROM events") == [("e1",)]
        versions = [r[0] for r in wh.sql("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, LATEST_VERSION + 1))
    with Warehouse(path) as wh:  # opening again applies nothing
        assert wh.migrate() == []


def test_newer_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Warehouse(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_version (version, description) VALUES (?, 'from the future')",
        [LATEST_VERSION + 5],
    )
    con.close()
    with pytest.raises(WarehouseVersionError, match=f"schema version {LATEST_VERSION + 5}, newer than this"):
        Warehouse(path)
    with pytest.raises(WarehouseVersionError, match="upgrade liveloop"):
        Warehouse(path, read_only=True)
