"""Segments keep their labels across rebuilds; removed tags stay out of tags, affinities and interest."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from liveloop.profiles import (
    BuildOptions,
    InterestModel,
    SegmentModel,
    Window,
    build_profiles,
    forget_user,
    remove_tag,
    user_profile,
)
from liveloop.profiles.features import affinity
from liveloop.profiles.similar import SimilarUsers
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


def test_removed_tags_are_respected_by_every_consumer(shop: Warehouse) -> None:
    opts = BuildOptions(k_max=4)
    build_profiles(shop, opts)
    tags = [t["tag"] for t in user_profile(shop, "u004")["tags"]]
    category = next(t for t in tags if t.startswith("category:"))
    remove_tag(shop, "u004", category, actor="test")
    remove_tag(shop, "u004", category, actor="test")  # idempotent
    assert category not in [t["tag"] for t in user_profile(shop, "u004")["tags"]]
    build_profiles(shop, opts)  # a rebuild keeps the removal
    assert category not in [t["tag"] for t in user_profile(shop, "u004")["tags"]]
    aff = affinity(shop, Window.ending(datetime(2027, 1, 1, tzinfo=UTC)), "category").to_pandas()
    value = category.split(":", 1)[1]
    assert not ((aff["user_id"] == "u004") & (aff["category"] == value)).any()
    assert ((aff["user_id"] != "u004") & (aff["category"] == value)).any()  # others keep it
    assert forget_user(shop, "u004") == {"profiles": 1, "tag_overrides": 1}  # erasure removes derived data
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
