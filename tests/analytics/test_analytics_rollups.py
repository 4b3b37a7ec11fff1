"""The KPI rollup against ``kpis.compute`` on the raw tables: the Overview's tiles and random windows
(both grains, four timezones, part days at either edge) give the same numbers; new events and orders
(through the ingest path), a refund, deletions and late rows reach the tiles at once (an incremental or
full refresh, never a stale rollup); an empty warehouse, a read-only one, and what the rollup cannot
answer."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from liveloop.analytics import kpis, rollups
from liveloop.analytics.overview import TILES, kpi_tiles
from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.ingest import ingest_records
from liveloop.privacy.rights import user_tables
from liveloop.warehouse import Warehouse

TZS = ("Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata")
#: Every KPI whose measures the rollup holds.
ANSWERED = [
    "gmv", "orders", "buyers", "aov", "gpm", "viewers", "room_views", "view_to_buy", "impression_to_entry",
    "product_ctr", "refund_rate",
]  # fmt: skip


def _copy(world: Warehouse, to: Path) -> Path:
    world.sql("CHECKPOINT")
    path = to / "copy" / world.path.name
    path.parent.mkdir()
    shutil.copy(world.path, path)
    return path


@pytest.fixture
def own(world: Warehouse, tmp_path: Path) -> Iterator[Warehouse]:
    """A copy of the simulated world that the test may change."""
    with Warehouse(_copy(world, tmp_path)) as wh:
        yield wh


def _state(wh: Warehouse, tz: str = "Asia/Shanghai") -> tuple[str, int]:
    row = wh.sql("SELECT refresh, days_rebuilt FROM kpi_rollup_state WHERE tz = ?", [tz])[0]
    return str(row[0]), int(row[1])


def _same_tiles(wh: Warehouse, tz: str = "Asia/Shanghai", days: int = 2) -> dict:
    got = kpi_tiles(wh, tz, days)
    assert got == kpi_tiles(wh, tz, days, rollup=False)
    return got


def test_tiles_equal_raw_compute(world: Warehouse) -> None:
    for tz in TZS:
        for days in (1, 2, 7):
            got = _same_tiles(world, tz, days)
            assert len(got["tiles"]) == len(TILES) and got["tiles"][0]["value"] > 0
    two = kpi_tiles(world, days=2)["tiles"]
    gmv = next(t for t in two if t["metric"] == "gmv")
    assert gmv["previous"] and len(gmv["trend"]) >= 4  # both windows hold data, a sparkline of days


def test_random_windows_equal_raw_compute(world: Warehouse) -> None:
    lo, hi = world.sql("SELECT min(ts), max(ts) FROM events")[0]
    rng = random.Random(7)
    for tz in TZS:
        asked = [rollups.Request(), rollups.Request("day")]
        asked += [rollups.Request("day", None, lo + timedelta(days=2)), rollups.Request("platform", lo)]
        asked.append(rollups.Request("platform", hi + timedelta(days=1), hi + timedelta(days=2)))  # no data
        for _ in range(12):
            start = lo - timedelta(hours=12) + timedelta(seconds=rng.uniform(0, (hi - lo).total_seconds()))
            end = start + timedelta(seconds=rng.uniform(60, 4 * 86400))
            asked.append(rollups.Request(rng.choice(["platform", "day"]), start, end))
        got = rollups.compute(world, ANSWERED, asked, tz)
        assert got is not None
        for r, rows in zip(asked, got, strict=True):
            assert rows == kpis.compute(world, ANSWERED, r.grain, start=r.start, end=r.end, tz=tz)["rows"], r


def test_what_the_rollup_cannot_answer(world: Warehouse) -> None:
    assert rollups.compute(world, ["avg_watch_seconds"], [rollups.Request()]) is None
    assert rollups.compute(world, ["repurchase_rate", "gmv"], [rollups.Request()]) is None
    assert rollups.compute(world, ["gmv"], [rollups.Request("host")]) is None
    assert not rollups.can_answer(["gmv"], "platform", {"channel": "feed"})
    with pytest.raises(ValidationFailed, match="unknown metric"):
        rollups.compute(world, ["nope"], [rollups.Request()])
    with pytest.raises(ValidationFailed, match="end must be after"):
        _, hi = world.sql("SELECT min(ts), max(ts) FROM events")[0]
        rollups.compute(world, ["gmv"], [rollups.Request("platform", hi, hi)])


def test_new_data_reaches_the_tiles_at_once(own: Warehouse) -> None:
    _same_tiles(own)
    assert rollups.refresh(own)["refresh"] == "fresh"
    everything = [rollups.Request()]
    was = (rollups.compute(own, ["gmv", "orders", "viewers"], everything) or [[{}]])[0][0]
    newest = own.sql("SELECT max(ts) FROM events")[0][0]
    viewers = [r[0] for r in own.sql("SELECT DISTINCT user_id FROM events ORDER BY 1 LIMIT 3")]
    events = [
        {
            "event_id": f"late-{i}",
            "user_id": u,
            "type": "enter_room",
            "ts": (newest + timedelta(hours=i)).isoformat(),
        }
        for i, u in enumerate([*viewers, "newcomer-1", "newcomer-2"], start=1)
    ]
    assert ingest_records(own, "events", events).rejected == 0
    orders = [
        {"order_id": "late-o1", "user_id": "newcomer-1", "ts": (newest + timedelta(hours=2)).isoformat(),
         "status": "paid", "amount": "88.50"},
        {"order_id": "late-o2", "user_id": viewers[0], "ts": (newest + timedelta(hours=3)).isoformat(),
         "status": "refunded", "amount": "20.00"},
    ]  # fmt: skip
    assert ingest_records(own, "orders", orders).rejected == 0
    after = _same_tiles(own)
    assert after["as_of"] == (newest + timedelta(hours=5)).isoformat()
    assert _state(own)[0] == "incremental" and _state(own)[1] <= 2  # the new events' local days only
    now = (rollups.compute(own, ["gmv", "orders", "viewers"], everything) or [[{}]])[0][0]
    assert now["gmv"] == pytest.approx(was["gmv"] + 88.5) and now["orders"] == was["orders"] + 1
    assert now["viewers"] == was["viewers"] + 2  # the two newcomers

    # a refund of an older order: that day's orders changed (no ingested_at: their hash tells)
    oldest = own.sql("SELECT order_id FROM orders WHERE status = 'paid' ORDER BY ts LIMIT 1")[0][0]
    own.sql("UPDATE orders SET status = 'refunded' WHERE order_id = ?", [oldest])
    _same_tiles(own, days=3)
    assert _state(own) == ("incremental", 1)

    # an erasure or retention deletes events: the rollup of the timezone is rebuilt in full
    own.sql("DELETE FROM events WHERE user_id = ?", [viewers[1]])
    _same_tiles(own)
    assert _state(own)[0] == "full"

    # rows loaded with an old ingested_at (a restore) are not behind the watermark: rebuilt in full too
    own.sql(
        "INSERT INTO events (event_id, ts, user_id, type, ingested_at) VALUES ('old-1', ?, 'u-old', "
        "'enter_room', TIMESTAMPTZ '2000-01-01 00:00:00+00')",
        [newest],
    )
    _same_tiles(own)
    assert _state(own)[0] == "full"
    assert "kpi_rollup_users" in user_tables(own)  # an erasure reaches the rollup's users as well


def test_each_timezone_keeps_its_own_rollup(own: Warehouse) -> None:
    _same_tiles(own, "UTC")
    _same_tiles(own, "Asia/Kolkata")
    assert rollups.refresh(own, "UTC")["refresh"] == "fresh"
    own.sql("DELETE FROM orders WHERE order_id = (SELECT min(order_id) FROM orders)")
    _same_tiles(own, "Asia/Kolkata")
    assert _state(own, "Asia/Kolkata") == ("incremental", 1)
    assert rollups.refresh(own, "UTC")["refresh"] == "incremental"  # UTC's was stale, rebuilt on use


def test_read_only_and_stale_falls_back_to_raw(world: Warehouse, tmp_path: Path) -> None:
    path = _copy(world, tmp_path)
    with Warehouse(path) as rw:
        _same_tiles(rw)
        newest = rw.sql("SELECT max(ts) FROM events")[0][0]
        rw.sql(
            "INSERT INTO events (event_id, ts, user_id, type) VALUES ('ro-1', ?, 'u-ro', 'enter_room')",
            [newest + timedelta(minutes=5)],
        )
    with Warehouse(path, read_only=True) as ro:
        assert rollups.compute(ro, list(TILES), [rollups.Request()]) is None  # stale, and cannot refresh
        _same_tiles(ro)
    with Warehouse(path) as rw:
        assert rollups.refresh(rw)["refresh"] == "incremental"
    with Warehouse(path, read_only=True) as ro:
        got = rollups.compute(ro, list(TILES), [rollups.Request()])
        assert got == [kpis.compute(ro, list(TILES))["rows"]]


def test_empty_warehouse(tmp_path: Path) -> None:
    with Warehouse.open(Settings(home=tmp_path)) as wh:
        assert kpi_tiles(wh) == {"as_of": None, "days": 7, "tiles": []}
        assert rollups.refresh(wh)["refresh"] == "full"
        assert rollups.refresh(wh)["refresh"] == "fresh"
        asked = [rollups.Request(), rollups.Request("day")]
        got = rollups.compute(wh, list(TILES), asked)
        assert got == [kpis.compute(wh, list(TILES), r.grain)["rows"] for r in asked]
        assert got[0][0]["gmv"] == 0.0 and got[0][0]["aov"] is None and got[1] == []
        # then the first data arrives (the rollup was built empty: no watermark yet)
        ingest_records(
            wh,
            "events",
            [{"event_id": "e1", "ts": "2026-11-11T12:00:00+08:00", "user_id": "u1", "type": "enter_room"}],
        )
        assert _same_tiles(wh)["tiles"][TILES.index("viewers")]["value"] == 1


def test_target_status_from_the_rollup_equals_raw(own: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    from liveloop.analytics import targets

    for t in (
        targets.Target("gmv", "week", 1e6),
        targets.Target("view_to_buy", "month", 0.2),
        targets.Target("refund_rate", "day", 0.05),
        targets.Target("repurchase_rate", "week", 0.3),  # not in the rollup: from the raw tables
    ):
        targets.set_target(own, t)
    fast = targets.status(own)
    monkeypatch.setattr(rollups, "measures", lambda *a, **k: None)  # the raw path only
    assert targets.status(own) == fast
    assert {t["metric"] for t in fast["targets"] if t["actual"] is not None} >= {"gmv", "view_to_buy"}
