"""Statistical properties of ``liveloop.experiments.stats`` on simulated data with fixed seeds, at a smaller
scale than ``benchmarks/bench_experiments.py``: the A/A false-positive rate of the fixed-horizon test,
its inflation under daily peeking, the sequential test's control of it, CUPED's variance reduction and
SRM detection.

Per-user spend is zero-inflated like e-commerce GMV: 90% of users spend nothing, the others a lognormal
amount (log mean 4, log sd 1.2).
"""

from __future__ import annotations

import math

import numpy as np

from liveloop.experiments.stats import compare, estimates, srm

Arms = dict[str, tuple[np.ndarray, np.ndarray | None]]

SEED = 20250601
USERS = 2000  # per test
DAYS = 14


def _gmv(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.1, rng.lognormal(4.0, 1.2, n), 0.0)


def _aa_test(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An A/A test: each user's arm (True: treatment), arrival day 1..14 and spend."""
    return rng.random(USERS) < 0.5, rng.integers(1, DAYS + 1, USERS), _gmv(rng, USERS)


def _p_values(treated: np.ndarray, day: np.ndarray, spend: np.ndarray, *, sequential: bool) -> np.ndarray:
    """The p-value at each daily look, on the users who arrived by that day."""
    out = np.empty(DAYS)
    for d in range(1, DAYS + 1):
        seen = day <= d
        est, _ = estimates(
            {"control": (spend[seen & ~treated], None), "treatment": (spend[seen & treated], None)}
        )
        out[d - 1] = compare(est[0], est[1], sequential=sequential).p_value
    return out


def test_fixed_horizon_aa_false_positive_rate_is_nominal() -> None:
    tests = 1000
    hits = 0
    for i in range(tests):
        treated, _day, spend = _aa_test(np.random.default_rng([SEED, 1, i]))
        est, _ = estimates({"control": (spend[~treated], None), "treatment": (spend[treated], None)})
        hits += compare(est[0], est[1]).p_value < 0.05
    tolerance = 3 * math.sqrt(0.05 * 0.95 / tests)  # three binomial standard errors
    assert abs(hits / tests - 0.05) <= tolerance, hits / tests


def test_daily_peeking_inflates_the_fixed_test_and_not_the_sequential_one() -> None:
    tests = 400
    fixed = sequential = 0
    for i in range(tests):
        data = _aa_test(np.random.default_rng([SEED, 2, i]))
        fixed += bool((_p_values(*data, sequential=False) < 0.05).any())
        sequential += bool((_p_values(*data, sequential=True) < 0.05).any())
    assert fixed / tests > 0.08, fixed / tests
    assert sequential / tests <= 0.06, sequential / tests


def test_sequential_interval_is_wider_than_the_fixed_one() -> None:
    treated, _day, spend = _aa_test(np.random.default_rng([SEED, 3]))
    est, _ = estimates({"control": (spend[~treated], None), "treatment": (spend[treated], None)})
    fixed, seq = compare(est[0], est[1]), compare(est[0], est[1], sequential=True)
    assert seq.ci[0] < fixed.ci[0] < fixed.ci[1] < seq.ci[1]
    assert seq.p_value >= fixed.p_value


def test_cuped_reduces_variance_on_correlated_pre_period_spend() -> None:
    # Users differ in how often they order (gamma rate, many near zero) and in their basket size; the
    # pre-period (8 weeks) and the experiment (2 weeks) are Poisson draws of orders at the same rate.
    rng = np.random.default_rng([SEED, 4])
    n = 20_000
    rate = rng.gamma(0.1, 1.0, n)
    basket = rng.lognormal(3.5, 0.6, n)

    def spend(weeks: int) -> np.ndarray:
        orders = rng.poisson(rate * weeks)
        total = np.zeros(n)
        for j in range(int(orders.max())):
            total += (orders > j) * basket * rng.lognormal(-0.125, 0.5, n)
        return total

    pre, post = spend(8), spend(2)
    treated = rng.random(n) < 0.5
    arms: Arms = {"control": (post[~treated], None), "treatment": (post[treated], None)}
    covariates: Arms = {"control": (pre[~treated], None), "treatment": (pre[treated], None)}
    plain, _ = estimates(arms)
    cuped, theta = estimates(arms, covariates)
    assert theta is not None and theta > 0
    without = plain[0].variance + plain[1].variance
    with_cuped = cuped[0].variance + cuped[1].variance
    assert [e.variance_raw for e in cuped] == [e.variance for e in plain]
    assert 1 - with_cuped / without >= 0.30, 1 - with_cuped / without
    # No true effect: the adjusted difference stays within its own noise.
    assert compare(cuped[0], cuped[1]).p_value > 0.001


def test_srm_flags_a_52_48_split_and_not_a_fair_one() -> None:
    weights = {"control": 0.5, "treatment": 0.5}
    assert srm({"control": 10_400, "treatment": 9_600}, weights)["mismatch"]
    assert not srm({"control": 10_000, "treatment": 10_000}, weights)["mismatch"]
    rng = np.random.default_rng([SEED, 5])
    fair = rng.binomial(20_000, 0.5, 2000)
    flagged = [srm({"control": 20_000 - int(t), "treatment": int(t)}, weights)["mismatch"] for t in fair]
    assert sum(flagged) <= 8  # 2 expected at p < 0.001; 8 has probability < 0.001
    skewed = rng.binomial(20_000, 0.52, 500)
    detected = [srm({"control": 20_000 - int(t), "treatment": int(t)}, weights)["mismatch"] for t in skewed]
    assert sum(detected) / len(detected) >= 0.95  # the chi-square test's exact rate is 99.1%
