"""The key index that de-duplicates API chunks (``liveloop.ingest.keyindex``): exact in every case.

Each test sends events through ``ingest_records`` (the API's path) into a real DuckDB warehouse and
checks the per-record outcomes and the table itself: no event stored twice, none lost.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from liveloop.core.config import Settings
from liveloop.ingest import engine, import_arrow, import_file, ingest_records, keyindex
from liveloop.ingest.keyindex import key_index
from liveloop.warehouse import Warehouse

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _ev(eid: str, minute: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "ts": (T0 + timedelta(minutes=minute)).isoformat(),
        "user_id": "u1",
        "type": "view",
        **kw,
    }


def send(wh: Warehouse, events: list[dict[str, Any]]) -> list[str]:
    return [r.status for r in ingest_records(wh, "events", events, source="api:test").results]


def stored(wh: Warehouse) -> dict[str, int]:
    return dict(wh.sql("SELECT event_id, count(*) FROM events GROUP BY event_id"))  # type: ignore[arg-type]


def index_of(wh: Warehouse) -> keyindex.KeyIndex:
    return key_index(wh, "events", "event_id", "ts")


def _append(wh: Warehouse, ids: list[str], minute: int = 0) -> None:
    rows = {
        "event_id": ids,
        "ts": [T0 + timedelta(minutes=minute)] * len(ids),
        "user_id": ["u2"] * len(ids),
        "type": ["click"] * len(ids),
        "source": ["other.path"] * len(ids),
    }
    with wh.transaction() as con:
        wh.append("events", pa.table(rows), con=con)


def test_duplicates_across_and_within_batches(wh: Warehouse) -> None:
    assert send(wh, [_ev("a1"), _ev("a2"), _ev("a1"), _ev("a3", 1)]) == [
        "accepted",
        "accepted",
        "duplicate",
        "accepted",
    ]
    assert send(wh, [_ev("a3", 1), _ev("a4"), _ev("a2"), _ev("a4")]) == [
        "duplicate",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    # the same id with another ts is still the same event: found by the full check
    assert send(wh, [_ev("a1", 99)]) == ["duplicate"]
    assert stored(wh) == {"a1": 1, "a2": 1, "a3": 1, "a4": 1}
    stats = index_of(wh).stats()
    assert stats["builds"] == 1 and stats["keys"] == 4 and stats["bytes"] == 32
    assert stats["full_checks"] >= 1 and stats["pruned_checks"] >= 2


def test_restart_rebuilds_the_index(settings: Settings) -> None:
    with Warehouse.open(settings) as wh:
        assert send(wh, [_ev(f"r{i}", i) for i in range(50)]) == ["accepted"] * 50
    with Warehouse.open(settings) as wh:  # a new process would start the same way: nothing cached
        assert send(wh, [_ev(f"r{i}", i) for i in range(40, 60)]) == ["duplicate"] * 10 + ["accepted"] * 10
        assert index_of(wh).stats()["builds"] == 1
        assert len(stored(wh)) == 60 and set(stored(wh).values()) == {1}


def test_rows_written_by_other_paths_are_caught_up(wh: Warehouse, tmp_path: Path) -> None:
    send(wh, [_ev("x0")])  # the index exists from here on
    _append(wh, ["w1", "w2"], minute=5)  # e.g. recommend feedback: wh.append in its own transaction
    wh.sql(
        "INSERT INTO events (event_id, ts, user_id, type) "
        "VALUES ('s1', TIMESTAMPTZ '2026-05-01 00:07:00+00', 'u', 'view')"
    )
    csv = tmp_path / "events.csv"
    csv.write_text(
        "event_id,ts,user_id,type\nf1,2026-05-01 00:08:00,u3,view\nf2,2026-05-01 00:09:00,u3,view\n"
    )
    assert import_file(wh, csv).loaded == 2  # the bulk path, in between
    import_arrow(
        wh,
        "events",
        pa.table({"event_id": ["p1"], "ts": ["2026-05-01 00:10:00"], "user_id": ["u"], "type": ["view"]}),
        source="arrow",
    )
    out = send(wh, [_ev("w1", 5), _ev("s1", 7), _ev("f2", 9), _ev("p1", 10), _ev("w2", 77), _ev("n1")])
    assert out == ["duplicate"] * 5 + ["accepted"]
    assert set(stored(wh).values()) == {1}
    # and the bulk path still sees what the API loaded
    csv.write_text(
        "event_id,ts,user_id,type\nn1,2026-05-01 00:00:00,u3,view\nf3,2026-05-01 00:00:00,u3,view\n"
    )
    report = import_file(wh, csv)
    assert (report.loaded, report.duplicates) == (1, 1)
    assert index_of(wh).stats()["rebuilds"] == 0  # appends only: caught up, not rebuilt


def test_deleted_rows_can_come_back_and_stale_hashes_cost_only_a_check(wh: Warehouse) -> None:
    send(wh, [_ev(f"d{i}", i) for i in range(10)])
    wh.sql("DELETE FROM events WHERE event_id IN ('d3', 'd9')")  # d9 is the high-water row
    assert send(wh, [_ev("d3", 3), _ev("d4", 4), _ev("d9", 9)]) == ["accepted", "duplicate", "accepted"]
    assert send(wh, [_ev("d3", 3), _ev("d9", 9)]) == ["duplicate", "duplicate"]
    assert stored(wh) == {f"d{i}": 1 for i in range(10)}


def test_renumbered_rows_after_delete_and_checkpoint(wh: Warehouse) -> None:
    """A checkpoint after deletes may renumber rowids; rows appended then must not be missed."""
    wh.sql(
        "INSERT INTO events (event_id, ts, user_id, type) SELECT 'pre-' || i, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL 1 SECOND, 'u', 'view' FROM range(500000) r(i)"
    )
    wh.sql("CHECKPOINT")
    assert send(wh, [_ev("b1"), _ev("b2")]) == ["accepted", "accepted"]
    top = wh.sql("SELECT max(rowid) FROM events")[0][0]
    wh.sql("DELETE FROM events WHERE rowid < 200000")
    wh.sql("CHECKPOINT")
    assert wh.sql("SELECT max(rowid) FROM events")[0][0] < top, "precondition: DuckDB renumbered the rows"
    _append(wh, [f"late{i}" for i in range(300)], minute=3)  # rowids now below the old high-water mark
    out = send(wh, [_ev("late0", 3), _ev("late299", 3), _ev("b2"), _ev("pre-5"), _ev("pre-250000")])
    assert out == ["duplicate", "duplicate", "duplicate", "accepted", "duplicate"]
    assert index_of(wh).stats()["rebuilds"] == 1
    assert wh.sql("SELECT count(*), count(DISTINCT event_id) FROM events") == [(300303, 300303)]


def test_forced_hash_collisions_stay_exact(wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyindex, "HASH_SQL", "CAST(42 AS UBIGINT)")  # every key hashes alike
    assert send(wh, [_ev("c1"), _ev("c2")]) == ["accepted", "accepted"]
    assert send(wh, [_ev("c2"), _ev("c3"), _ev("c1", 50), _ev("c3")]) == [
        "duplicate",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert stored(wh) == {"c1": 1, "c2": 1, "c3": 1}
    stats = index_of(wh).stats()
    assert stats["keys"] == 1 and stats["hash_hits"] == 3
    assert (stats["pruned_checks"], stats["full_checks"]) == (1, 1)


def test_rolled_back_chunk_leaves_no_false_duplicates(wh: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, "_quarantine_bad", boom)  # fails after the good rows were inserted
    with pytest.raises(RuntimeError):
        send(wh, [_ev("k1"), _ev("k2"), {"event_id": "bad", "ts": "never", "user_id": "u", "type": "view"}])
    monkeypatch.undo()
    assert stored(wh) == {}
    assert send(wh, [_ev("k1"), _ev("k2")]) == ["accepted", "accepted"]  # stale hashes: checked, not trusted


def test_users_by_key_and_segment_messages(wh: Warehouse) -> None:
    """Other one-column keys use the index too (users, with PII), and Segment batches (two targets)."""
    from liveloop.ingest import ingest_segment

    users = [{"user_id": "u7", "phone": "13800000000"}, {"user_id": "u8"}, {"user_id": "u7"}]
    assert [r.status for r in ingest_records(wh, "users", users).results] == [
        "accepted",
        "accepted",
        "duplicate",
    ]
    msgs = [
        {
            "type": "track",
            "event": "Product Viewed",
            "messageId": "m1",
            "userId": "u7",
            "timestamp": T0.isoformat(),
        },
        {"type": "identify", "messageId": "m2", "userId": "u9", "traits": {"region": "浙江"}},
        {"type": "identify", "messageId": "m3", "userId": "u8", "traits": {}},
    ]
    first = [r.status for r in ingest_segment(wh, msgs).results]
    assert first == ["accepted", "accepted", "duplicate"]
    assert [r.status for r in ingest_segment(wh, msgs).results] == ["duplicate"] * 3
    assert wh.sql("SELECT count(*) FROM users") == [(3,)]
    assert wh.sql("SELECT count(*) FROM events") == [(1,)]


def test_same_outcomes_as_the_table_scan(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random mix of batches, other writers, deletes and checkpoints: with and without the index,
    every record gets the same outcome and the tables end the same."""
    rng = random.Random(11)
    other = Settings(home=tmp_path / "other", secret_key=settings.secret_key)
    a, b = Warehouse.open(settings), Warehouse.open(other)
    try:
        for step in range(60):
            roll = rng.random()
            if roll < 0.6:
                batch = []
                for _ in range(rng.randint(1, 40)):
                    i = rng.randint(0, 150)
                    batch.append(_ev(f"e{i}", i if rng.random() < 0.9 else i + 1))
                if rng.random() < 0.5:  # ids unique in the batch: the engine loads it straight
                    batch = list({e["event_id"]: e for e in reversed(batch)}.values())
                if rng.random() < 0.2:
                    batch.append(
                        {"event_id": "bad id!", "ts": T0.isoformat(), "user_id": "u", "type": "view"}
                    )
                monkeypatch.setattr(engine, "USE_KEY_INDEX", True)
                with_index = send(a, batch)
                monkeypatch.setattr(engine, "USE_KEY_INDEX", False)
                assert send(b, batch) == with_index, step
            elif roll < 0.75:
                ids = [f"e{rng.randint(0, 150)}" for _ in range(rng.randint(1, 5))]
                for wh in (a, b):
                    _append(wh, ids)
            elif roll < 0.9:
                ids = ", ".join(f"'e{rng.randint(0, 150)}'" for _ in range(rng.randint(1, 8)))
                for wh in (a, b):
                    wh.sql(f"DELETE FROM events WHERE event_id IN ({ids})")
            else:
                for wh in (a, b):
                    wh.sql("CHECKPOINT")
        assert stored(a) == stored(b)
        assert index_of(a).stats()["builds"] >= 1
    finally:
        a.close()
        b.close()


def test_a_sync_inside_a_transaction_skips_that_transactions_own_rows(wh: Warehouse) -> None:
    send(wh, [_ev("t0")])
    index = index_of(wh)
    rows = {"event_id": ["own1"], "ts": [T0], "user_id": ["u"], "type": ["view"]}
    with wh.transaction() as con:
        wh.append("events", pa.table(rows), con=con)
        index.sync(con)  # its uncommitted row must not become the high-water mark
    _append(wh, ["after1"])
    assert send(wh, [_ev("own1"), _ev("after1"), _ev("t1")]) == ["duplicate", "duplicate", "accepted"]
    assert index.stats()["rebuilds"] == 0


# -- bulk chunks (file imports) -------------------------------------------------------------------
def _csv(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    """A native events file of (event_id, minute, user_id) rows."""
    lines = ["event_id,ts,user_id,type"]
    lines += [
        f"{eid},{(T0 + timedelta(minutes=m)).strftime('%Y-%m-%d %H:%M:%S')},{u},view" for eid, m, u in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(wh: Warehouse) -> set[tuple[Any, ...]]:
    return set(wh.sql("SELECT event_id, ts, user_id FROM events"))


def _random_files(tmp_path: Path, rng: random.Random) -> list[Path]:
    """Files whose ids repeat within a chunk, across chunks, across files, with other ``ts`` or users."""
    files = []
    for f in range(4):
        rows = []
        for _ in range(rng.randint(50, 400)):
            i = rng.randint(0, 600)
            rows.append((f"b{i}", i if rng.random() < 0.8 else i + 3, f"u{f}"))
        if rng.random() < 0.5:
            rows.append(("bad id!", 0, "u"))  # quarantined, never a key
        files.append(_csv(tmp_path / f"events_{f}.csv", rows))
    return files


def test_bulk_imports_through_the_index_match_the_anti_join(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same reports, same rows (the first line of each key wins), with and without the index, over
    chunks that repeat ids within themselves, across chunks and files, and against API rows."""
    rng = random.Random(5)
    files = _random_files(tmp_path, rng)
    other = Settings(home=tmp_path / "other", secret_key=settings.secret_key)
    a, b = Warehouse.open(settings), Warehouse.open(other)
    try:
        api = [_ev(f"b{i}", i) for i in rng.sample(range(600), 40)]
        send(a, api)
        send(b, api)
        for path in [*files, files[0]]:  # the last one again: everything a duplicate
            monkeypatch.setattr(engine, "USE_KEY_INDEX", True)
            with_index = import_file(a, path, chunk_rows=37).to_dict()
            monkeypatch.setattr(engine, "USE_KEY_INDEX", False)
            without = import_file(b, path, chunk_rows=37).to_dict()
            for k in ("rows_read", "loaded", "duplicates", "quarantined"):
                assert with_index[k] == without[k], (path, k)
        assert _rows(a) == _rows(b)
        assert set(stored(a).values()) == {1}
        stats = index_of(a).stats()
        assert stats["bulk_chunks"] > 20 and stats["hash_hits"] > 0
    finally:
        a.close()
        b.close()


def test_bulk_chunks_anti_join_past_the_limits(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _csv(tmp_path / "events.csv", [(f"m{i}", i, "u") for i in range(30)])
    assert import_file(wh, first, chunk_rows=10).loaded == 30
    assert index_of(wh).stats()["bulk_chunks"] == 3
    monkeypatch.setattr(keyindex, "BULK_MAX_HITS", 4)  # a re-import hits every key: the join is cheaper
    report = import_file(wh, first, chunk_rows=10)
    assert (report.loaded, report.duplicates) == (0, 30)
    assert index_of(wh).stats()["bulk_anti_joins"] == 3
    monkeypatch.setattr(keyindex, "BULK_MAX_KEYS", 35)  # a chunk may start while it holds <= 35 keys
    more = _csv(tmp_path / "more.csv", [(f"m{i}", i, "u") for i in range(25, 65)])
    report = import_file(wh, more, table="events", chunk_rows=10)
    assert (report.loaded, report.duplicates) == (35, 5)
    # chunk 1 hits 5 keys (> 4): joins; 2 and 3 start at 30 and 35 keys; 4 finds 45: joins
    stats = index_of(wh).stats()
    assert (stats["bulk_anti_joins"], stats["bulk_chunks"]) == (3 + 2, 3 + 2)
    assert len(stored(wh)) == 65 and set(stored(wh).values()) == {1}


@pytest.mark.parametrize("chunk_rows", [2, 4])  # the repeat of h1 in the next chunk, or in the same one
def test_bulk_hash_collisions_stay_exact(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    monkeypatch.setattr(keyindex, "HASH_SQL", "CAST(42 AS UBIGINT)")  # every key hashes alike
    path = _csv(tmp_path / "events.csv", [("h1", 0, "u1"), ("h2", 1, "u1"), ("h1", 2, "u2"), ("h3", 3, "u1")])
    report = import_file(wh, path, chunk_rows=chunk_rows)
    assert (report.loaded, report.duplicates) == (3, 1)
    assert _rows(wh) == {
        ("h1", T0, "u1"),
        ("h2", T0 + timedelta(minutes=1), "u1"),
        ("h3", T0 + timedelta(minutes=3), "u1"),
    }
    assert index_of(wh).stats()["bulk_chunks"] == 4 // chunk_rows


def test_an_index_forgotten_mid_chunk_gives_no_false_news(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``forget_key_index`` from another thread between a chunk's catch-up and its probe: the chunk
    checks the table instead of trusting an empty index."""
    path = _csv(tmp_path / "events.csv", [(f"g{i}", i, "u") for i in range(20)])
    assert import_file(wh, path, chunk_rows=10).loaded == 20
    original = keyindex.KeyIndex.sync

    def sync_then_forget(self: keyindex.KeyIndex, con: Any) -> None:
        original(self, con)
        self.forget()

    monkeypatch.setattr(keyindex.KeyIndex, "sync", sync_then_forget)
    report = import_file(wh, path, chunk_rows=10)  # bulk chunks
    assert (report.loaded, report.duplicates) == (0, 20)
    assert send(wh, [_ev("g3", 3), _ev("g99")]) == ["duplicate", "accepted"]  # the API path
    assert set(stored(wh).values()) == {1}


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.integers(0, 63))
def test_the_hash_order_sorts_like_an_argsort(values: list[int], shift: int) -> None:
    """Any hashes, also many equal in their top bits (``shift`` clears low bits of some)."""
    hashes = np.array(values, np.uint64)
    hashes[::3] = hashes[::3] >> np.uint64(shift) << np.uint64(shift)
    order, ordered = keyindex._hash_order(hashes)
    assert np.array_equal(ordered, np.sort(hashes)) and np.array_equal(hashes[order], ordered)
    assert sorted(order.tolist()) == list(range(hashes.size))
