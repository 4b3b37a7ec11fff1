"""Data rights in one call: a complete export, and an erasure verified on the bytes of every file liveloop
wrote (the DuckDB file and its WAL after a checkpoint, the model artifacts, a Parquet lake)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

import liveloop.profiles  # noqa: F401  (registers the profile forgetter and explainers)
from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.core.errors import LiveloopError, NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.ingest import import_file, ingest_records
from liveloop.live.lottery import AUDIT_ACTION, LotteryRules, draw
from liveloop.live.lottery import record as record_draw
from liveloop.privacy import consent, rights
from liveloop.privacy.consent import ConsentChange
from liveloop.profiles import build_profiles, predict_interest
from liveloop.recommend.service import RecommendService
from liveloop.recommend.train import train
from liveloop.warehouse import Warehouse
from liveloop.warehouse.entities import update_entity
from liveloop.warehouse.lake import export_parquet

PHONE, EMAIL, NAME = "13912345678", "erase.me@example.cn", "张三丰"


@pytest.fixture
def world(settings: Settings, data_home: Path) -> Iterator[tuple[Warehouse, Settings]]:
    settings = replace(settings, data_home=data_home)
    wh = Warehouse.open(settings)
    wh.sql("PRAGMA force_compression = 'uncompressed'")  # a byte search then sees every stored id
    simulate_into_warehouse(wh, scale="tiny", seed=5)
    build_profiles(wh, settings=settings)
    train(wh, settings, evaluate=False, force=True)
    yield wh, settings
    wh.close()


def _files(*roots: Path) -> list[Path]:
    return [
        p for r in roots if r.exists() for p in ([r] if r.is_file() else sorted(r.rglob("*"))) if p.is_file()
    ]


def _holding(needle: str, *roots: Path) -> list[str]:
    return [str(p) for p in _files(*roots) if needle.encode() in p.read_bytes()]


def _rows_naming(wh: Warehouse, user_id: str) -> dict[str, int]:
    """Rows of any table with a text column equal to, or a JSON text naming, the user."""
    found = {}
    for (table,) in wh.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"):
        cols = [
            c
            for c, t in wh.sql(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            )
            if t.startswith("VARCHAR") or t == "JSON"
        ]
        if not cols:
            continue
        cond = " OR ".join(
            f'CAST("{c}" AS VARCHAR) = $u OR contains(CAST("{c}" AS VARCHAR), $q)' for c in cols
        )
        n = wh.sql(f'SELECT count(*) FROM "{table}" WHERE {cond}', {"u": user_id, "q": json.dumps(user_id)})[
            0
        ][0]
        if n:
            found[table] = n
    return found


@pytest.mark.slow
def test_erasure_leaves_no_byte_of_the_user_in_any_file_and_keeps_everyone_else(
    world: tuple[Warehouse, Settings], tmp_path: Path
) -> None:
    wh, settings = world
    cipher = load_cipher(settings)
    user = wh.sql(
        "SELECT user_id FROM events WHERE product_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )[0][0]
    update_entity(wh, "users", user, {"phone": PHONE, "email": EMAIL, "name": NAME}, cipher=cipher)
    consent.record(wh, [ConsentChange(user, "marketing", "granted", "email", "app", "form 3")], actor="t")
    bad = (
        tmp_path / "bad.csv"
    )  # two quarantined rows naming the user: a PII table's (encrypted) and an event's
    bad.write_text(f"user_id,phone\n{user},not-a-phone-{PHONE}\n", encoding="utf-8")
    import_file(wh, bad, table="users")
    ingest_records(
        wh,
        "events",
        [{"event_id": "e-bad", "user_id": user, "type": "teleport", "ts": "2026-01-01T00:00:00Z"}],
    )
    result = draw(
        "s-erase",
        [
            {"user_id": user, "watch_minutes": 30, "engagement": 5},
            {"user_id": "other", "watch_minutes": 30, "engagement": 5},
        ],
        LotteryRules(winners=2, min_watch_minutes=1),
        seed=1,
    )
    record_draw(wh, result)
    svc = RecommendService(wh, settings)
    assert svc.recommend(user, 5)["mode"] == "personalised"  # served: an audit row waits in the buffer
    assert predict_interest(wh, user)["categories"]
    lake = tmp_path / "lake"
    export_parquet(wh, lake)
    others_before = wh.sql("SELECT count(*) FROM events WHERE user_id <> ?", [user])[0][0]
    wh.sql("CHECKPOINT")
    db, wal = wh.path, Path(f"{wh.path}.wal")
    assert _holding(user, db), "the test must be able to fail: the id is in the file before"
    assert _holding(user, settings.models_dir), "and in the model artifacts"
    assert (
        wh.sql("SELECT count(*) FROM read_parquet(?) WHERE user_id = ?", [str(lake / "users.parquet"), user])[
            0
        ][0]
        == 1
    )

    report = rights.erase_user(wh, user, settings=settings, cipher=cipher, actor="key:admin")

    assert report["verified"] and report["remaining_files"] == []
    assert report["deleted"]["events"] > 0 and report["deleted"]["quarantine"] == 2
    assert report["anonymised"]["audit_log"] >= 3  # the draw, the consent change, the served list
    wh.sql("CHECKPOINT")
    for needle in (user, PHONE, EMAIL, NAME):
        assert _holding(needle, db, wal, settings.models_dir, settings.home / "simulator", lake) == [], needle
    assert _rows_naming(wh, user) == {}
    lake_rows = wh.sql(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = true) WHERE user_id = ?",
        [f"{lake}/events/**/*.parquet", user],
    )[0][0]
    assert lake_rows == 0
    assert wh.sql("SELECT count(*) FROM events")[0][0] == others_before  # nobody else lost a row
    draws = wh.sql("SELECT CAST(details AS VARCHAR) FROM audit_log WHERE action = ?", [AUDIT_ACTION])
    assert '"other"' in draws[0][0] and "erased-" in draws[0][0]  # the other winner is still named
    assert svc.recommend(user, 5)["mode"] == "cold_start"  # serving forgot them
    with pytest.raises(NotFound):
        predict_interest(wh, user)
    with pytest.raises(NotFound):
        rights.export_user(wh, user, cipher=cipher)
    erased = wh.sql("SELECT subject, CAST(details AS VARCHAR) FROM audit_log WHERE action = 'privacy.erase'")
    assert (
        len(erased) == 1 and erased[0][0] == f"blind:{cipher.blind_index(user)}" and user not in erased[0][1]
    )


def test_an_id_is_erased_whole_never_as_part_of_another(wh: Warehouse, settings: Settings) -> None:
    wh.append("users", pa.table({"user_id": ["u1", "u10"]}))
    wh.append(
        "events",
        pa.table(
            {
                "event_id": ["a", "b"],
                "user_id": ["u1", "u10"],
                "type": ["view", "view"],
                "ts": pa.array([0, 0], pa.timestamp("s", tz="UTC")),
            }
        ),
    )
    wh.sql(
        "INSERT INTO live_draws (session_id, seed, candidates, eligible, digest, winners) "
        'VALUES (\'s\', 1, 2, 2, \'d\', \'[{"user_id": "u1"}, {"user_id": "u10"}]\')'
    )
    report = rights.erase_user(wh, "u1", settings=settings, cipher=load_cipher(settings), actor="t")
    assert report["deleted"] == {"events": 1, "users": 1} and report["anonymised"] == {"live_draws": 1}
    assert report["verified"] is None  # "u1" is too short to look for in the file's bytes
    assert [r[0] for r in wh.sql("SELECT user_id FROM users")] == ["u10"]
    winners = json.loads(wh.sql("SELECT winners FROM live_draws")[0][0])
    assert winners[1] == {"user_id": "u10"} and winners[0]["user_id"].startswith("erased-")
    with pytest.raises(ValidationFailed):
        rights.erase_user(wh, "u 1", settings=settings, cipher=load_cipher(settings))


def test_a_search_of_the_bytes_cannot_tell_a_compressed_row_is_gone_so_an_erasure_always_compacts(
    wh: Warehouse, settings: Settings
) -> None:
    wh.sql(
        "INSERT INTO events (event_id, user_id, type, ts) SELECT 'e' || i, "
        "'user' || lpad((hash(i) % 100000)::VARCHAR, 6, '0'), 'view', TIMESTAMPTZ '2026-03-01' "
        "FROM range(300000) t(i)"
    )
    wh.sql("CHECKPOINT")
    stored = wh.path.read_bytes()
    ids = [r[0] for r in wh.sql("SELECT DISTINCT user_id FROM events ORDER BY 1 LIMIT 200")]
    hidden = [u for u in ids if u.encode() not in stored]
    assert len(hidden) >= 2, "compressed (FSST), many stored ids are not in the file's bytes as such"
    plain, erased = hidden[:2]
    layout = "SELECT row_group_id, column_id, block_id, block_offset FROM pragma_storage_info('events') "
    layout += "ORDER BY ALL"
    before = wh.sql(layout)
    wh.sql("DELETE FROM events WHERE user_id = ?", [plain])
    wh.sql("CHECKPOINT")
    assert wh.sql(layout) == before  # every segment where it was: the deleted rows' values are still there
    rows = wh.sql("SELECT count(*) FROM events WHERE user_id = ?", [erased])[0][0]

    report = rights.erase_user(wh, erased, settings=settings, cipher=load_cipher(settings), actor="t")

    assert report["deleted"]["events"] == rows > 0 and report["verified"] is True
    assert report["compacted"]["bytes_after"] > 0  # compacted although no byte of the id was visible
    assert wh.sql(layout) != before


def test_a_batch_that_fails_half_way_audits_every_user_it_erased_and_says_it_failed(
    wh: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.sql("INSERT INTO users (user_id, region) VALUES ('batch-one-1', 'x'), ('batch-two-2', 'x')")
    erase_rows = rights._erase_rows

    def second_fails(wh: Warehouse, user_id: str, *args, **kwargs):
        if user_id == "batch-two-2":
            raise LiveloopError(f"the disk is full while erasing {user_id} (after batch-one-1)")
        return erase_rows(wh, user_id, *args, **kwargs)

    monkeypatch.setattr(rights, "_erase_rows", second_fails)
    cipher = load_cipher(settings)
    with pytest.raises(LiveloopError, match="disk is full"):
        rights.erase_users(wh, ["batch-one-1", "batch-two-2"], settings=settings, cipher=cipher, actor="t")
    audited = wh.sql(
        "SELECT subject, decision, CAST(details AS VARCHAR) FROM audit_log WHERE action = 'privacy.erase'"
    )
    assert [(s, d) for s, d, _ in audited] == [(f"blind:{cipher.blind_index('batch-one-1')}", "failed")]
    assert "disk is full while erasing … (after …)" in audited[0][2]
    assert "batch-one-1" not in audited[0][2] and "batch-two-2" not in audited[0][2]  # no id in the reason
    assert wh.sql("SELECT user_id FROM users ORDER BY 1") == [("batch-two-2",)]
