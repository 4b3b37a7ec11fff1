"""Uplift targeting: the metrics against hand-worked and published values, the model on known effects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from liveloop.campaigns.uplift import (
    UpliftModel,
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
)
from liveloop.core.errors import ValidationFailed

# A hand-worked example: scores already in descending order, 5 treated (2 respond), 5 control (2 respond).
Y = np.array([1, 0, 1, 0, 1, 0, 0, 1, 0, 0])
T = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 0])
S = np.linspace(0.9, 0.0, 10)


def test_uplift_at_k_hand_worked() -> None:
    # top 3 rows: treated 1,0 -> 1/2; control 1 -> 1; top 5: treated 1,0,1 -> 2/3; control 1,0 -> 1/2
    assert uplift_at_k(Y, T, S, k=0.3) == pytest.approx(-0.5)
    assert uplift_at_k(Y, T, S, k=0.5) == pytest.approx(2 / 3 - 1 / 2)
    # the whole population: the difference in means (here 2/5 - 2/5)
    assert uplift_at_k(Y, T, S, k=1.0) == pytest.approx(0.0)


def test_qini_curve_hand_worked() -> None:
    x, q = qini_curve(Y, T, S)
    assert x.tolist() == list(range(11))
    assert q == pytest.approx([0, 1, 1, -1, 0, 0.5, 1, 2 / 3, 0, -0.5, 0])


def test_perfect_curve_and_qini_coefficient_hand_worked() -> None:
    # perfect order: the two treated responders, the six non-responders, then the two control responders
    x, q = perfect_qini_curve(Y, T)
    assert x.tolist() == [0, 2, 8, 10]
    assert q == pytest.approx([0, 2, 2, 0])
    # area under the curve above: 8/3; under the perfect one: 16; random's diagonal ends at 0
    assert qini_auc_score(Y, T, S) == pytest.approx((8 / 3) / 16)
    assert qini_auc_score(Y, T, Y * T - Y * (1 - T)) == pytest.approx(1.0)


def test_qini_curve_groups_tied_scores() -> None:
    x, q = qini_curve([1, 0, 0, 1], [1, 0, 1, 0], [0.5, 0.5, 0.2, 0.2])
    assert x.tolist() == [0, 2, 4]
    assert q == pytest.approx([0, 1, 0])


def test_metrics_match_scikit_uplift_published_tests() -> None:
    """Values from scikit-uplift 0.5.1's own test-suite (sklift/tests/test_metrics.py)."""
    # test_qini_curve (binary): every score tied
    x, q = qini_curve([0, 1, 0], [0, 1, 1], [0.4, 0.4, 0.4])
    assert x.tolist() == [0, 3]
    assert q == pytest.approx([0, 1])
    # test_perfect_qini_curve, with and without negative effects
    for negative_effect in (True, False):
        x, q = perfect_qini_curve([0, 1, 0], [0, 1, 1], negative_effect=negative_effect)
        assert np.asarray(x, dtype=float) == pytest.approx([0, 1, 3])
        assert q == pytest.approx([0, 1, 1])
    # test_qini_auc_score
    assert qini_auc_score([0, 1], [1, 0], [0.1, 0.3]) == pytest.approx(1.0)
    assert qini_auc_score([1, 0], [0, 1], [0.1, 0.3]) == pytest.approx(1.0)


def _reference_qini(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> float:
    """A plain loop over cut-offs (distinct scores), the trapezoid rule, and the diagonal (Radcliffe)."""

    def curve(score: np.ndarray) -> tuple[list[float], list[float]]:
        xs, qs = [0.0], [0.0]
        for cut in sorted(set(score.tolist()), reverse=True):
            top = score >= cut
            nt, nc = (top & (t == 1)).sum(), (top & (t == 0)).sum()
            yt, yc = y[top & (t == 1)].sum(), y[top & (t == 0)].sum()
            xs.append(float(top.sum()))
            qs.append(yt - (yc * nt / nc if nc else 0.0))
        return xs, qs

    def area(xs: list[float], qs: list[float]) -> float:
        return sum((xs[i + 1] - xs[i]) * (qs[i] + qs[i + 1]) / 2 for i in range(len(xs) - 1))

    xp, qp = curve(y * t - y * (1 - t))
    diagonal = len(y) * qp[-1] / 2
    return (area(*curve(s)) - diagonal) / (area(xp, qp) - diagonal)


def _reference_uplift_at_k(y: np.ndarray, t: np.ndarray, s: np.ndarray, k: float) -> float:
    """Top ``int(n k)`` rows; among equal scores the later row first (sklift's reversed stable sort)."""
    ranked = sorted(range(len(s)), key=lambda i: (s[i], i), reverse=True)[: int(len(s) * k)]
    treated = [y[i] for i in ranked if t[i] == 1]
    control = [y[i] for i in ranked if t[i] == 0]
    return sum(treated) / len(treated) - sum(control) / len(control)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_an_independent_implementation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 397
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + 0.2 * t).astype(int)
    s = rng.integers(0, 40, n) / 40  # many ties
    assert qini_auc_score(y, t, s) == pytest.approx(_reference_qini(y, t, s))
    for k in (0.1, 0.3, 0.77):
        assert uplift_at_k(y, t, s, k) == pytest.approx(_reference_uplift_at_k(y, t, s, k))


def _synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """A randomised campaign: x1 > 0.7 buy anyway (sure things, 60%, no effect); among the others,
    x0 > 0.5 are persuadable (5% -> 35%); the rest stay at 5%."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.random((n, 4)), columns=["x0", "x1", "x2", "x3"])
    sure = (X["x1"] > 0.7).to_numpy()
    tau = np.where((X["x0"].to_numpy() > 0.5) & ~sure, 0.3, 0.0)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(sure, 0.6, 0.05) + t * tau).astype(int)
    return X, t, y, tau


@pytest.mark.parametrize("learner", ["x", "t"])
def test_model_ranks_persuadables_above_sure_things(learner: str) -> None:
    X, t, y, _ = _synthetic(8000, seed=1)
    Xn, tn, yn, tau = _synthetic(4000, seed=2)
    model = UpliftModel(learner=learner, seed=0).fit(X, t, y)
    uplift = model.predict(Xn)
    persuadable = tau > 0
    assert uplift[persuadable].mean() - uplift[~persuadable].mean() > 0.15
    top = np.argsort(-uplift)[: int(0.3 * len(uplift))]
    assert persuadable[top].mean() > 0.9  # the top 30% are persuadables, not sure things
    # ranking by the true P(buy | treated), the best a response model can do, picks the sure things
    sure = Xn["x1"].to_numpy() > 0.7
    response_top = np.argsort(-(np.where(sure, 0.6, 0.05) + tau), kind="stable")[: len(top)]
    assert tau[response_top].mean() < 0.05 < 0.25 < tau[top].mean()
    assert uplift_at_k(yn, tn, uplift) > uplift_at_k(yn, tn, np.random.default_rng(0).random(len(yn)))


def test_model_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    X, t, y, _ = _synthetic(3000, seed=3)
    first = UpliftModel(learner="x", seed=7).fit(X, t, y).predict(X)
    model = UpliftModel(learner="x", seed=7).fit(X, t, y)
    assert np.array_equal(first, model.predict(X))
    path = model.save(tmp_path / "models" / "uplift.joblib")
    loaded = UpliftModel.load(path)
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict(X), first)


def test_load_refuses_another_object(tmp_path: Path) -> None:
    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(ValidationFailed) as err:
        UpliftModel.load(tmp_path / "other.joblib")
    assert err.value.field == "path"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: uplift_at_k([0, 1, 1], [0, 1], [0.1, 0.2, 0.3]), "treatment"),
        (lambda: uplift_at_k([0, 1], [0, 1], [0.1, 0.2, 0.3]), "score"),
        (lambda: uplift_at_k([0, 1, 1], [0, 2, 1], [0.1, 0.2, 0.3]), "treatment"),
        (lambda: uplift_at_k([0, 1, 1], [1, 1, 1], [0.1, 0.2, 0.3]), "treatment"),
        (lambda: uplift_at_k(Y, T, S, k=0), "k"),
        (lambda: uplift_at_k(Y, T, S, k=1.5), "k"),
        (lambda: uplift_at_k(Y, T, S, k=-0.3), "k"),
        (lambda: uplift_at_k(Y, T, S, k=0.05), "k"),  # top 0 rows
        (lambda: qini_curve([0, 2, 1], [0, 1, 1], [0.1, 0.2, 0.3]), "y"),
        (lambda: qini_auc_score(Y, T, [np.nan] * 10), "score"),
        (lambda: qini_auc_score(Y, T, S, negative_effect=False), "y"),  # no gain: nothing to normalise by
        (lambda: perfect_qini_curve([0, 1], [0, 1, 1]), "treatment"),
        (lambda: UpliftModel().fit(np.zeros((3, 2)), [0, 1], [0, 1, 1]), "treatment"),
        (lambda: UpliftModel().fit(np.zeros((3, 2)), [0, 1, 1], [0, 1]), "y"),
        (lambda: UpliftModel().fit(np.zeros((3, 2)), [0, 1, 3], [0, 1, 1]), "treatment"),
        (lambda: UpliftModel(learner="s").fit(np.zeros((3, 2)), [0, 1, 1], [0, 1, 1]), "learner"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        call()
    assert err.value.field == field


def test_hillstrom_uplift_beats_random_targeting(data_home: Path) -> None:
    """The real randomised e-mail test (women's e-mail vs none, outcome visit): held-out half."""
    from liveloop.datasets.loader import load

    d = load("hillstrom_email")["hillstrom.csv"]
    d = d[d["segment"] != "Mens E-Mail"].reset_index(drop=True)
    X = d[["recency", "history", "mens", "womens", "newbie"]].join(
        pd.get_dummies(d[["zip_code", "channel"]], dtype=float)
    )
    t = (d["segment"] == "Womens E-Mail").to_numpy(int)
    y = d["visit"].to_numpy(int)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.5, stratify=2 * t + y, random_state=0)
    model = UpliftModel(learner="x", seed=0, n_estimators=100, num_leaves=3, min_child_samples=200)
    uplift = model.fit(X.iloc[tr], t[tr], y[tr]).predict(X.iloc[te])
    rng = np.random.default_rng(0)
    random_at_30 = np.mean([uplift_at_k(y[te], t[te], rng.random(len(te))) for _ in range(20)])
    assert uplift_at_k(y[te], t[te], uplift) > random_at_30 + 0.01
    assert qini_auc_score(y[te], t[te], uplift) > 0.02
