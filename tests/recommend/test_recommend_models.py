"""Retrievers and metrics on real MovieLens 100K: sanity against popularity, determinism, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from liveloop.recommend.base import Retriever
from liveloop.recommend.content import ContentBased, tokenize
from liveloop.recommend.evaluate import evaluate_models
from liveloop.recommend.factorization import ALS, BPR
from liveloop.recommend.hybrid import HybridRanker
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.knn import EASE, ItemKNN, SequentialKNN
from liveloop.recommend.metrics import ranking_metrics
from liveloop.recommend.popularity import Popularity, popular_by_group
from liveloop.recommend.sequential import GRU4Rec, SASRec
from liveloop.recommend.sources import movielens
from liveloop.recommend.splits import stratified_split, time_split


@pytest.fixture(scope="module")
def ml(data_home: Path):
    data = movielens()
    return data, *stratified_split(data, 0.75, seed=42)


def test_loader_and_splits(ml) -> None:
    data, train, test = ml
    assert (data.n_users, data.n_items, len(data)) == (943, 1682, 100_000)
    assert len(train) + len(test) == 100_000
    per_user = np.bincount(train.user_idx, minlength=943) / np.bincount(data.user_idx, minlength=943)
    assert np.all(np.abs(per_user - 0.75) < 0.05)  # stratified: every user keeps ~75% in training
    early, late = time_split(data, 0.2)
    assert early.ts.max() < late.ts.min()


def test_metrics_on_a_known_case() -> None:
    truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    recs = np.array([[2, 1], [3, 0]])
    m = ranking_metrics(recs, truth, np.array([0, 1]), k=2)
    assert m["hitrate@2"] == 1.0 and m["mrr@2"] == 1.0
    assert m["recall@2"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["ndcg@2"] == pytest.approx((1 / (1 + 1 / np.log2(3)) + 1.0) / 2)
    assert m["precision@2"] == pytest.approx(0.5)


def test_als_and_itemknn_beat_popularity_on_ndcg(ml) -> None:
    _, train, test = ml
    rows = {r["model"]: r for r in evaluate_models(train, test, [Popularity(), ItemKNN(), ALS(seed=1)], k=10)}
    assert rows["als"]["ndcg@10"] > rows["popularity"]["ndcg@10"] + 0.1
    assert rows["itemknn"]["ndcg@10"] > rows["popularity"]["ndcg@10"]
    assert rows["als"]["coverage"] > rows["popularity"]["coverage"]


def test_ease_beats_popularity_and_caps_its_catalogue(ml, tmp_path: Path) -> None:
    _, train, test = ml
    rows = {r["model"]: r for r in evaluate_models(train, test, [Popularity(), EASE()], k=10)}
    assert rows["ease"]["ndcg@10"] > rows["popularity"]["ndcg@10"] + 0.1
    capped = EASE(max_items=200).fit(train)
    s = np.asarray(capped.score(np.arange(5)))
    outside = np.setdiff1d(np.arange(train.n_items), capped.kept_)
    assert len(capped.kept_) == 200 and s.shape == (5, train.n_items) and not s[:, outside].any()
    counts = train.item_counts()
    assert counts[capped.kept_].min() >= counts[outside].max()  # the most-interacted items take part
    again = EASE.load(capped.save(tmp_path / "ease.pkl"))
    np.testing.assert_allclose(np.asarray(again.score(np.arange(5))), s)
    hist = capped.score_history(train.item_idx[train.user_idx == 0])
    assert hist.shape == (train.n_items,) and not hist[outside].any()


def test_als_is_deterministic_and_round_trips(ml, tmp_path: Path) -> None:
    _, train, _ = ml
    users = np.arange(5)
    a = ALS(seed=3, iterations=3).fit(train)
    b = ALS(seed=3, iterations=3).fit(train)
    np.testing.assert_allclose(a.score(users), b.score(users))
    restored = ALS.load(a.save(tmp_path / "als.pkl"))
    np.testing.assert_allclose(restored.score(users), a.score(users))
    restored.partial_fit_users(np.array([0]), train.matrix[[0]] * 0 + train.matrix[[1]])
    assert not np.allclose(restored.score(np.array([0])), a.score(np.array([0])))


def test_content_tokenises_chinese_and_english() -> None:
    assert "羽绒服" in tokenize("太平鸟基础款羽绒服")
    assert tokenize("Down Jacket, basic!") == ["down", "jacket", "basic"]


def test_small_models_fit_and_score(ml, tmp_path: Path) -> None:
    _, train, _ = ml
    small = train.subset(train.user_idx < 60)
    models: list[Retriever] = [
        ContentBased(),
        SASRec(epochs=1, dim=16, max_len=20),
        GRU4Rec(epochs=1, dim=16, max_len=20),
        HybridRanker([ALS(iterations=3), ItemKNN()], split="random", n_estimators=10),
    ]
    for model in models:
        model.fit(small)
        s = np.asarray(model.score(np.array([0, 1])))
        assert s.shape == (2, small.n_items) and np.isfinite(s).any()
        again = type(model).load(model.save(tmp_path / f"{model.name}.pkl"))
        np.testing.assert_allclose(np.asarray(again.score(np.array([0, 1]))), s, rtol=1e-5)


def test_popular_by_group(ml) -> None:
    data, _, _ = ml
    cats = data.items_meta["category"].to_numpy()[data.item_idx]
    groups = popular_by_group(data, cats, k=3)
    assert set(groups) <= set(data.items_meta["category"]) and all(len(v) <= 3 for v in groups.values())
    drama = groups["Drama"]
    assert all(data.items_meta["category"].iloc[i] == "Drama" for i in drama)


def _events(pairs: list[tuple[str, str, int]]) -> Interactions:
    df = pd.DataFrame(pairs, columns=["user_id", "item_id", "ts"])
    df["weight"] = 1.0
    return Interactions.from_frame(df)


def test_sequential_knn_links_items_close_in_time() -> None:
    # every user watches a, b, c ... h in order: neighbours in the time line are similar, far ones are not
    data = _events([(f"u{u}", it, 10 * p + u) for u in range(6) for p, it in enumerate("abcdefgh")])
    sim = SequentialKNN(window=1, shrink=0.0).fit(data).similarity_.toarray()
    ix = data.item_index()
    assert sim[ix["a"], ix["b"]] > 0 and sim[ix["d"], ix["e"]] > 0 and sim[ix["a"], ix["h"]] == 0
    assert ItemKNN(shrink=0.0).fit(data).similarity_.toarray()[ix["a"], ix["h"]] > 0


def test_bpr_learns_two_tastes_and_is_deterministic() -> None:
    # two groups of users with disjoint tastes; each user has seen all but one item of their group
    pairs = []
    for u in range(40):
        group = "xy"[u % 2]
        pairs += [(f"u{u}", f"{group}{i}", i) for i in range(8) if i != u % 8]
    data = _events(pairs)
    a = BPR(factors=8, iterations=60, learning_rate=0.05, seed=1).fit(data)
    b = BPR(factors=8, iterations=60, learning_rate=0.05, seed=1).fit(data)
    np.testing.assert_allclose(a.score(np.arange(4)), b.score(np.arange(4)))
    recs, _ = a.recommend(np.arange(data.n_users), k=1, exclude=data.matrix)
    users, items = data.users.astype(str), data.items.astype(str)
    same_group = [items[r[0]][0] == "xy"[int(users[u][1:]) % 2] for u, r in enumerate(recs)]
    assert np.mean(same_group) > 0.9
    assert np.isfinite(a.score_history(np.array([0, 1]))).all()


def test_hybrid_repeat_mode_and_prefitted(ml) -> None:
    _, train, _ = ml
    small = train.subset(train.user_idx < 80)
    users = np.arange(5)
    fresh = HybridRanker([ALS(iterations=3), Popularity()], split="random", n_estimators=20).fit(small)
    s = np.asarray(fresh.score(users))
    assert not np.isfinite(s[small.matrix[users].nonzero()]).any()  # seen items are not candidates
    repeat = HybridRanker(
        [ALS(iterations=3), Popularity()], split="time", exclude_seen=False, n_estimators=20
    )
    repeat.fit(small)
    assert np.isfinite(np.asarray(repeat.score(users))[small.matrix[users].nonzero()]).all()
    als = ALS(iterations=3).fit(small)
    pre = HybridRanker([ALS(iterations=3), Popularity()], split="random", n_estimators=20)
    pre.fit(small, prefitted=[als, Popularity().fit(small)])
    assert pre.fitted_[0] is als and {"als_rank", "mean_score", "days_since_touch"} <= set(pre.feature_names)
