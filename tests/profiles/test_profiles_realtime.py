"""Real-time interest and similar users as product features: recorded models, incremental per-user state,
removed tags and opted-out users respected."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from profiles_shop import CATEGORIES, seed_shop

from liveloop.core.errors import NotFound
from liveloop.profiles import (
    BuildOptions,
    InterestTracker,
    build_profiles,
    forget_user,
    predict_interest,
    remove_tag,
    similar_users,
    user_profile,
)
from liveloop.profiles.realtime import interest_tracker
from liveloop.warehouse import Warehouse

LATER = datetime(2026, 9, 1, tzinfo=UTC)


def _event(wh: Warehouse, user: str, product: str, n: int, start: datetime = LATER) -> None:
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"rt-{user}-{start.timestamp()}-{i}" for i in range(n)],
                "ts": [start + timedelta(minutes=i) for i in range(n)],
                "user_id": [user] * n,
                "type": ["view"] * n,
                "product_id": [product] * n,
            }
        ),
    )


@pytest.fixture(scope="module")
def built_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One build for the module; each test works on its own copy of the warehouse (models are shared)."""
    path = tmp_path_factory.mktemp("built") / "liveloop.duckdb"
    with Warehouse(path) as wh:
        seed_shop(wh)
        summary = build_profiles(wh, BuildOptions(k_max=4))
    return path, summary


@pytest.fixture
def built(built_file: tuple[Path, dict], tmp_path: Path) -> Iterator[tuple[Warehouse, dict]]:
    src, summary = built_file
    shutil.copy(src, tmp_path / "copy.duckdb")
    with Warehouse(tmp_path / "copy.duckdb") as wh:
        yield wh, summary


@pytest.mark.slow
def test_the_build_records_every_profile_model(built) -> None:
    wh, summary = built
    version = summary["model_version"]
    rows = wh.sql("SELECT name, version, path, metrics FROM model_versions WHERE active ORDER BY name")
    names = {r[0]: r for r in rows}
    assert set(names) >= {"profiles", "segments", "high_value", "interest", "similar_users"}
    assert {r[1] for r in rows} == {version}
    for name, artifact in (
        ("interest", "model.pt"),
        ("similar_users", "model.pkl"),
        ("high_value", "model.pkl"),
    ):
        folder = Path(names[name][2])
        assert folder.parts[-3:] == ("models", name, version) and (folder / artifact).is_file()
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["data_window"] == summary["data_window"] and meta["libraries"]["torch"]
    interest = json.loads(names["interest"][3])
    assert 0 <= interest["accuracy"] <= 100 and interest["baseline"]["name"].startswith("repeat last")
    assert interest["n_test"] > 0
    similar = json.loads(names["similar_users"][3])
    assert similar["users"] == 80 and similar["baseline"]["name"] == "popularity top 10"
    hv = json.loads(names["high_value"][3])
    assert set(hv["models"]) == {"rf", "lgbm"} and hv["chosen"] in hv["models"]
    assert hv["models"][hv["chosen"]]["auc"] == max(m["auc"] for m in hv["models"].values())


def test_profile_shows_predicted_interest_with_a_reason(built) -> None:
    wh, _ = built
    interest = user_profile(wh, "u003")["interest"]
    cats = [c["category"] for c in interest["categories"]]
    assert cats and set(cats) <= set(CATEGORIES) and len(cats) == len(set(cats))
    probs = [c["probability"] for c in interest["categories"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert interest["explanation"].startswith("LSTM next-category model over the user's last 20 events")
    assert "held-out top-1" in interest["explanation"]


def test_state_advances_incrementally_with_new_events(built) -> None:
    wh, _ = built
    tracker = InterestTracker(max_users=2)
    first = tracker.predict(wh, "u001")
    seeded = first["events_seen"]
    assert tracker.stats()["cold_starts"] == 1 and 0 < seeded <= 20  # the latest 20 at most
    _event(wh, "u001", "p3", 2)  # p3 is in 'digital' (category of product j = j % 4)
    second = tracker.predict(wh, "u001")
    stats = tracker.stats()
    assert stats["warm_reads"] == 1 and stats["events_applied"] == seeded + 2  # only the two new events
    assert second["events_seen"] == seeded + 2 and "latest: digital" in second["explanation"]
    assert tracker.predict(wh, "u001")["events_seen"] == seeded + 2  # nothing new: nothing applied
    _event(wh, "u001", "p1", 25, LATER + timedelta(days=1))  # more new events than the model reads
    third = tracker.predict(wh, "u001")
    assert tracker.stats()["cold_starts"] == 2 and third["events_seen"] == 20
    assert "latest: snacks" in third["explanation"]
    for user in ("u002", "u004"):  # bounded: two users at most
        tracker.predict(wh, user)
    assert tracker.stats()["users"] == 2 and tracker.stats()["evictions"] == 1


def test_removed_category_leaves_the_interest_state(built) -> None:
    wh, _ = built
    before = predict_interest(wh, "u005")
    top = before["categories"][0]["category"]
    remove_tag(wh, "u005", f"category:{top}", actor="test")
    after = predict_interest(wh, "u005")
    assert top not in [c["category"] for c in after["categories"]]
    assert after["explanation"].endswith("removed tags excluded")
    _event(wh, "u005", f"p{CATEGORIES.index(top)}", 3)  # new events in the removed category are skipped
    assert top not in [c["category"] for c in predict_interest(wh, "u005")["categories"]]


def test_similar_users_with_reasons_and_privacy(built) -> None:
    wh, _ = built
    out = similar_users(wh, "u000", 5)
    ids = [i["user_id"] for i in out["items"]]
    assert len(ids) == 5 and "u000" not in ids and out["model_version"]
    assert all(i["explanation"].startswith("cosine") for i in out["items"])
    sims = [i["similarity"] for i in out["items"]]
    assert sims == sorted(sims, reverse=True)
    erased, opted_out = ids[0], ids[1]
    forget_user(wh, erased)
    wh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id = ?", [opted_out])
    again = [i["user_id"] for i in similar_users(wh, "u000", 5)["items"]]
    assert erased not in again and opted_out not in again and len(again) == 5
    assert similar_users(wh, opted_out, 5)["items"] == []
    assert predict_interest(wh, opted_out)["explanation"].startswith("not computed")
    with pytest.raises(NotFound):
        similar_users(wh, "nobody", 5)
    with pytest.raises(NotFound):
        predict_interest(wh, "nobody")
    assert interest_tracker(wh).stats()["users"] == 0  # nobody was scored: the opted-out user is not kept


def test_no_models_yet_says_so(wh: Warehouse) -> None:
    wh.append("users", pa.table({"user_id": ["a"]}))
    assert predict_interest(wh, "a")["explanation"].startswith("insufficient data: no interest model")
    assert similar_users(wh, "a")["explanation"].startswith("insufficient data")
