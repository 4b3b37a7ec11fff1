"""Segments through ``build_profiles``: K by silhouette within bounds, labels stable across builds,
bilingual names and descriptions, per-segment top categories, channels and hours (and K-means alone
with bounds that leave one choice)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from profiles_shop import CATEGORIES, START
from scipy.optimize import linear_sum_assignment

from liveloop.profiles import BuildOptions, build_profiles, list_segments
from liveloop.profiles.segments import ARCHETYPES, FEATURE_LABELS, SegmentModel
from liveloop.warehouse import Warehouse

CJK = re.compile(r"[\u4e00-\u9fff]")


def _assignment(wh: Warehouse) -> dict[str, str]:
    return dict(wh.sql("SELECT user_id, segment_id FROM profiles"))  # type: ignore[arg-type]


@pytest.mark.slow
def test_labels_stay_with_the_same_users_across_builds(shop: Warehouse) -> None:
    build_profiles(shop, BuildOptions(k_min=3, k_max=3))
    first = _assignment(shop)
    names = {s["segment_id"]: s["name_en"] for s in list_segments(shop)}
    late = START + timedelta(days=60)  # late-arriving activity of a tenth of the users
    users = [f"u{i:03d}" for i in range(0, 80, 10)]
    shop.append(
        "events",
        pa.table(
            {
                "event_id": [f"late-{u}" for u in users],
                "ts": [late] * len(users),
                "user_id": users,
                "type": ["view"] * len(users),
                "product_id": ["p1"] * len(users),
            }
        ),
    )
    build_profiles(shop, BuildOptions(k_min=3, k_max=3, seed=11))  # another seed: other raw cluster order
    second = _assignment(shop)
    ids = sorted(names)
    table = np.array([[sum(first[u] == a and second[u] == b for u in first) for b in ids] for a in ids])
    rows, cols = linear_sum_assignment(-table)
    best = table[rows, cols].sum() / len(first)  # agreement under the best relabelling of the new build
    same = np.mean([first[u] == second[u] for u in first])
    assert same == best and same > 0.8, (same, best)  # the ids follow the clusters (optimal matching)
    assert {s["segment_id"]: s["name_en"] for s in list_segments(shop)} == names


@pytest.mark.slow
def test_k_names_descriptions_and_per_segment_stats(shop: Warehouse) -> None:
    later = datetime(2026, 4, 1, tzinfo=UTC)
    senders = [f"u{i:03d}" for i in range(0, 80, 2)]
    shop.append(  # messages: SMS opened by half the users, push ignored
        "messages",
        pa.table(
            {
                "message_id": [f"m{i}-{ch}" for i in range(len(senders)) for ch in ("sms", "app_push")],
                "user_id": [u for u in senders for _ in range(2)],
                "channel": ["sms", "app_push"] * len(senders),
                "status": ["opened", "sent"] * len(senders),
                "created_at": [later] * (2 * len(senders)),
                "opened_at": [later if ch == "sms" else None for _ in senders for ch in ("sms", "app_push")],
            }
        ),
    )
    summary = build_profiles(shop, BuildOptions(k_min=3, k_max=5))
    segments = list_segments(shop)
    meta_path = Path(shop.sql("SELECT path FROM model_versions WHERE name = 'segments' AND active")[0][0])
    meta = json.loads((meta_path / "meta.json").read_text())
    silhouettes = {int(k): v for k, v in meta["metrics"]["silhouette"].items()}
    assert sorted(silhouettes) == [3, 4, 5]  # every K in the bounds was tried, no other
    best = max(silhouettes, key=lambda k: silhouettes[k])
    assert meta["metrics"]["k"] == best == summary["segments"] == len(segments)
    known = {(a.name_zh, a.name_en) for a in ARCHETYPES}
    trait_names = {(f"{zh}偏高", f"Above-average {en}") for zh, en in FEATURE_LABELS.values()}
    assert len({s["name_en"] for s in segments}) == len(segments)  # one archetype each
    hours = {u: json.loads(f)["active_hours"] for u, f in shop.sql("SELECT user_id, features FROM profiles")}
    members: dict[str, list[str]] = {}
    for user, sid in _assignment(shop).items():
        members.setdefault(sid, []).append(user)
    for s in segments:
        assert (s["name_zh"], s["name_en"]) in known | trait_names and CJK.search(s["name_zh"])
        assert not CJK.search(s["name_en"])
        zh = s["description_zh"]
        assert CJK.search(zh) and ("倍" in zh or "相近" in zh)
        assert "x average" in s["description"] or s["description"] == "close to the average user"
        stats = s["stats"]
        assert stats["size"] == s["size"] == len(members[s["segment_id"]])
        assert stats["top_categories"] and set(stats["top_categories"]) <= set(CATEGORIES)
        assert set(stats["shopping_channels"]) <= {"live", "feed", "search"} and stats["shopping_channels"]
        assert set(stats["preferred_channels"]) <= {"sms", "app_push"} and stats["channel_data"] is True
        summed = np.sum([hours[u] for u in members[s["segment_id"]]], axis=0)
        assert stats["peak_hours"][0] == int(np.argmax(summed))
        assert all(0 <= h <= 23 for h in stats["peak_hours"])
    assert any(s["stats"]["preferred_channels"] == ["sms"] for s in segments)


def test_bounds_that_leave_one_k() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"monetary": rng.lognormal(3, 1, 300), "views": rng.poisson(9, 300).astype(float)})
    model = SegmentModel(k_min=4, k_max=4, seed=0).fit(x)
    assert model.k == 4 and list(model.silhouettes_) == [4]
