"""Segments keep their labels across rebuilds; removed tags stay out of tags, affinities and interest."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from liveloop.profiles import (
    BuildOptions,
    InterestModel,
    SegmentModel,
    Window,
    build_features,
    build_profiles,
    forget_user,
    remove_tag,
    user_profile,
)
from liveloop.profiles.features import affinity, interest_events, product_affinity
from liveloop.profiles.service import list_segments
from liveloop.profiles.similar import SimilarUsers
from liveloop.profiles.value import HIGH_VALUE_KINDS, fit_high_value
from liveloop.warehouse import Warehouse


def _blobs(seed: int, n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = {
        "monetary": [2000.0, 100.0, 0.0],
        "frequency": [12.0, 3.0, 0.0],
        "watch_minutes": [10.0, 30.0, 600.0],
    }
    kind = np.arange(n) % 3
    data = {k: np.abs(np.asarray(v)[kind] * rng.lognormal(0, 0.15, n)) for k, v in centres.items()}
    return pd.DataFrame(data, index=[f"u{i}" for i in range(n)])


def test_segment_labels_are_stable_across_rebuilds() -> None:
    first = SegmentModel(k_min=3, k_max=3, seed=0).fit(_blobs(0))
    before = first.predict(_blobs(0))
    centroids = first.raw_centroids(_blobs(0), before)
    second = SegmentModel(k_min=3, k_max=3, seed=5).fit(_blobs(1))  # new data, other seed: other raw labels
    mapping = second.align_to(centroids)
    after = second.predict(_blobs(1))
    assert sorted(mapping.values()) == sorted(first.ids_)
    assert (before == after).mean() > 0.95  # every user type keeps its segment id


@pytest.mark.slow
def test_removed_tags_are_respected_by_every_consumer(shop: Warehouse) -> None:
    opts = BuildOptions(k_max=4)
    build_profiles(shop, opts)
    tags = [t["tag"] for t in user_profile(shop, "u004")["tags"]]
    category = next(t for t in tags if t.startswith("category:"))
    brand = next(t for t in tags if t.startswith("brand:"))
    value, brand_value = category.split(":", 1)[1], brand.split(":", 1)[1]
    remove_tag(shop, "u004", category, actor="test")
    remove_tag(shop, "u004", category, actor="test")  # idempotent
    remove_tag(shop, "u004", brand, actor="test")
    assert category not in [t["tag"] for t in user_profile(shop, "u004")["tags"]]
    build_profiles(shop, opts)  # a rebuild keeps the removal
    profile = user_profile(shop, "u004")
    assert category not in [t["tag"] for t in profile["tags"]] and brand not in [
        t["tag"] for t in profile["tags"]
    ]
    assert sorted(profile["removed_tags"]) == sorted([category, brand])
    win = Window.ending(datetime(2027, 1, 1, tzinfo=UTC))
    aff = affinity(shop, win, "category").to_pandas()
    assert not ((aff["user_id"] == "u004") & (aff["category"] == value)).any()
    assert ((aff["user_id"] != "u004") & (aff["category"] == value)).any()  # others keep it
    # features: the category shares and top category leave it out
    feats = build_features(shop, win)
    assert feats.loc["u004", "top_category"] != value
    # interest: neither trained on, fed with, nor predicted
    seen = interest_events(shop, win).to_pandas()
    assert not ((seen["user_id"] == "u004") & (seen["category"] == value)).any()
    assert value not in [c["category"] for c in profile["interest"]["categories"]]
    # similar users: no product of the removed category or brand counts for the user
    products = shop.df("SELECT product_id, category, brand FROM products").set_index("product_id")
    mine = product_affinity(shop, win).to_pandas().query("user_id == 'u004'")
    assert not products.loc[mine["product_id"], "category"].eq(value).any()
    assert not products.loc[mine["product_id"], "brand"].eq(brand_value).any()
    # segments: per-segment top categories come from the same affinities
    seg_id = profile["segment"]["segment_id"]
    stats = next(s for s in list_segments(shop) if s["segment_id"] == seg_id)["stats"]
    assert set(stats["top_categories"]) <= set(aff["category"])
    audit = shop.sql("SELECT actor, decision FROM audit_log WHERE action = 'profiles.remove_tag'")
    assert ("test", category) in audit
    assert forget_user(shop, "u004") == {"profiles": 1, "tag_overrides": 2}  # erasure removes derived data
    assert shop.sql("SELECT count(*) FROM profiles WHERE user_id = 'u004'")[0][0] == 0


def test_interest_models_learn_sequences_and_update_per_event() -> None:
    cycle = ["a", "b", "c", "d"]
    seqs = {f"u{i}": [cycle[(i + j) % 4] for j in range(30)] for i in range(40)}
    for arch in ("lstm", "attention"):
        model = InterestModel(arch=arch, dim=16, hidden=16, epochs=6, batch_size=128, seed=0).fit(seqs)
        assert model.predict_top(["a", "b", "c"], k=1)[0][0] == "d", arch
        assert "d" not in [c for c, _ in model.predict_top(["a", "b", "c"], k=3, exclude={"d"})]
        state = model.state(["b", "c"])
        state.update("d")
        assert state.top(1)[0][0] == "a", arch
        # the per-event state gives exactly what re-scoring the same (short) window gives
        for got, want in zip(state.top(4), model.predict_top(["b", "c", "d"], k=4), strict=True):
            assert got[0] == want[0] and abs(got[1] - want[1]) < 1e-3, arch  # float64 vs float32


def test_interest_windows_are_a_bounded_sample_of_transitions() -> None:
    seqs = {f"u{i}": ["a", "b", "c", "d"] * 10 for i in range(50)}  # 50 x 39 transitions
    model = InterestModel(length=5, max_windows=300, seed=0)
    model.vocab_ = {c: i + 2 for i, c in enumerate("abcd")}
    x, y = model._windows(seqs)
    assert x.shape == (300, 5) and y.shape == (300,)
    # every window is the 5 tokens before its target, left-padded: the cycle a b c d a ...
    for row, target in zip(x, y, strict=True):
        tokens = [t for t in row if t != 0]
        assert all((b - a) % 4 == 1 for a, b in pairwise([*tokens, target]))


@pytest.mark.slow
def test_high_value_choice_on_held_out_users() -> None:
    rng = np.random.default_rng(0)
    n = 600
    feats = pd.DataFrame(
        {
            "monetary": rng.lognormal(3, 1, n),
            "frequency": rng.poisson(3, n).astype(float),
            "recency_days": rng.uniform(0, 60, n),
            "views": rng.poisson(20, n).astype(float),
        },
        index=[f"u{i}" for i in range(n)],
    )
    labels = (feats["monetary"] * rng.lognormal(0, 0.3, n)).rank(pct=True) > 0.8
    model, report = fit_high_value(feats, labels, seed=0)
    assert set(report["models"]) == {"rf", "lgbm"} and report["n_test"] == n // 4
    best = max(report["models"], key=lambda k: report["models"][k]["auc"])
    assert model.kind == report["chosen"] == best and report["reason"].startswith(HIGH_VALUE_KINDS[best])
    assert all(m["auc"] > 0.8 for m in report["models"].values())  # spend drives the label
    only, rep = fit_high_value(feats, labels, choose="rf", seed=0)
    assert only.kind == "rf" and set(rep["models"]) == {"rf"}


def test_similar_users_find_users_with_the_same_taste() -> None:
    rows = [(f"u{i}", f"item{(i % 2) * 10 + j}", 1.0) for i in range(30) for j in range(8)]
    model = SimilarUsers(factors=8, iterations=10, seed=0).fit(
        pd.DataFrame(rows, columns=["user_id", "item", "weight"])
    )
    near = model.similar("u0", k=5)
    assert len(near) == 5 and all(int(u[1:]) % 2 == 0 for u, _ in near)
    assert all(int(i[4:]) < 10 for i in model.recommend_from_neighbours("u0", k=5))


def test_tag_removal_rejects_bad_input(wh: Warehouse) -> None:
    import pytest

    from liveloop.core.errors import NotFound, ValidationFailed

    wh.append("users", pa.table({"user_id": ["x"]}))
    with pytest.raises(ValidationFailed):
        remove_tag(wh, "x", "no-kind")
    with pytest.raises(NotFound):
        remove_tag(wh, "ghost", "category:a")
    assert wh.sql("SELECT count(*) FROM tag_overrides")[0][0] == 0
