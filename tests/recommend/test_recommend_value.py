"""Value-aware hybrid ranking: margins shift the ranking by exactly the documented term, ``"auto"``
chooses on the training holdout within the hit floor, and in the simulator (true values known) the
value-aware hybrid earns more per impression than CF alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.recommend.factorization import ALS
from liveloop.recommend.hybrid import VALUE_MIN_HITS, VALUE_WEIGHTS, HybridRanker, item_margins
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.popularity import Popularity
from liveloop.recommend.sources import movielens
from liveloop.recommend.strategies import evaluate_strategies
from liveloop.recommend.train import value_weight_setting


@pytest.fixture(scope="module")
def priced(data_home: Path) -> Interactions:
    """300 MovieLens users, with a made-up price and cost per film (seeded)."""
    data = movielens()
    rng = np.random.default_rng(5)
    price = rng.uniform(5, 200, data.n_items).round(2)
    meta = pd.DataFrame({"price": price, "cost": (price * rng.uniform(0.3, 0.9, data.n_items)).round(2)})
    return replace(data.subset(data.user_idx < 300), items_meta=meta)


def _hybrid(value_weight: float | str) -> HybridRanker:
    return HybridRanker(
        [ALS(iterations=3), Popularity()], split="time", n_estimators=30, value_weight=value_weight
    )


def test_margins_are_price_minus_cost_never_negative(priced: Interactions) -> None:
    meta = priced.items_meta
    assert meta is not None
    m = item_margins(priced)
    assert np.allclose(m, np.maximum(meta["price"] - meta["cost"], 0))
    no_cost = replace(priced, items_meta=meta[["price"]])
    assert np.allclose(item_margins(no_cost), meta["price"])  # price alone without a cost
    assert not item_margins(replace(priced, items_meta=None)).any()  # no prices: no value term


def test_the_value_term_is_added_to_the_ranker_score(priced: Interactions) -> None:
    plain = _hybrid(0.0).fit(priced)
    users = np.arange(20)
    base = np.asarray(plain.score(users))
    plain.value_weight_ = 0.5
    shifted = np.asarray(plain.score(users))
    finite = np.isfinite(base)
    assert np.array_equal(finite, np.isfinite(shifted))  # same candidates
    rows, items = np.nonzero(finite)
    expected = 0.5 * np.log1p(item_margins(priced))[items]
    assert np.allclose(shifted[rows, items] - base[rows, items], expected, atol=1e-4)


def test_auto_chooses_on_the_holdout_within_the_hit_floor(priced: Interactions) -> None:
    model = _hybrid("auto").fit(priced)
    choice = model.value_choice_
    assert model.value_weight_ in VALUE_WEIGHTS and choice["chosen"] == model.value_weight_
    assert set(choice["tried"]) == {str(w) for w in VALUE_WEIGHTS} and choice["validation_users"] > 0
    tried = choice["tried"]
    kept = [w for w in VALUE_WEIGHTS if tried[str(w)]["hits"] >= VALUE_MIN_HITS * tried["0.0"]["hits"]]
    best = max(tried[str(w)]["intent_margin"] for w in kept)
    assert tried[str(model.value_weight_)]["intent_margin"] == best or model.value_weight_ == 0.0


@pytest.mark.parametrize("bad", [-0.1, float("inf"), float("nan"), "max"])
def test_a_bad_value_weight_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="value_weight"):
        HybridRanker([Popularity()], value_weight=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "parsed"), [(None, "auto"), ("0", 0.0), ("auto", "auto"), (" AUTO ", "auto"), ("0.25", 0.25)]
)
def test_the_served_value_weight_setting(raw: str | None, parsed: object, monkeypatch) -> None:
    if raw is None:
        monkeypatch.delenv("LIVELOOP_RECOMMEND_VALUE_WEIGHT", raising=False)
    else:
        monkeypatch.setenv("LIVELOOP_RECOMMEND_VALUE_WEIGHT", raw)
    assert value_weight_setting() == parsed


@pytest.mark.parametrize("raw", ["lots", "-1", "inf", "nan"])
def test_a_bad_served_value_weight_names_the_setting(raw: str, monkeypatch) -> None:
    monkeypatch.setenv("LIVELOOP_RECOMMEND_VALUE_WEIGHT", raw)
    with pytest.raises(ValidationFailed) as caught:
        value_weight_setting()
    assert caught.value.field == "LIVELOOP_RECOMMEND_VALUE_WEIGHT"


@pytest.mark.slow
def test_value_aware_hybrid_beats_cf_on_true_roi_in_the_simulator() -> None:
    """Table 2 on the small world: every strategy valued by the Oracle on every user (paired)."""
    table = evaluate_strategies("small", seed=7, k=10, visits=2)
    rows = {r["strategy"]: r for r in table["rows"]}
    hybrid, cf = rows["hybrid (CF + deep, LambdaRank)"], rows["CF (ALS)"]
    assert hybrid["value_weight"] > 0
    assert hybrid["all_users_expected_roi"] > 1.1 * cf["all_users_expected_roi"]
    assert hybrid["all_users_expected_ctr"] > 0.95 * cf["all_users_expected_ctr"]  # not bought with clicks
    assert table["best_expected_roi"] == "hybrid (CF + deep, LambdaRank)"
