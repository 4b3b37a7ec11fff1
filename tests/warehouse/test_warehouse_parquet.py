"""Parquet export and import: a round trip restores every table; importing twice loads nothing twice."""

from __future__ import annotations

from pathlib import Path

from liveloop.core.config import Settings
from liveloop.ingest import import_file, ingest_records
from liveloop.warehouse import Warehouse, export_parquet, import_parquet

TABLES = ("events", "users", "products", "live_sessions", "quarantine")


def _snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        cols = [c for c in wh.columns(table) if c not in ("ingested_at", "updated_at", "created_at")]
        order = ", ".join(f'"{c}"' for c in cols[:2])
        out[table] = wh.sql(
            f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}" ORDER BY {order}'
        )
    return out


def test_round_trip(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
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
                "end_ts": "2024-05-01T22:00:00+08:00",
                "lineup": ["p1", "p2"],
            }
        ],
    )
    before = _snapshot(wh)
    out = tmp_path / "lake"
    counts = export_parquet(wh, out)
    assert counts["events"] == 3 and (out / "events" / "date=2024-05-02").is_dir()

    with Warehouse(tmp_path / "restored.duckdb") as fresh:
        result = import_parquet(fresh, out)
        assert result["events"] == {"read": 3, "loaded": 3, "duplicates": 0}
        assert _snapshot(fresh) == before
        again = import_parquet(fresh, out)
        assert all(r["loaded"] == 0 for r in again.values())
        assert _snapshot(fresh) == before


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
