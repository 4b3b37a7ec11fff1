"""The offer bandit on synthetic rounds with known truth: it finds each segment's best offer, stays within
its budget, keeps its state across a save; the fixed-policy optimum is the exhaustive one; bad input is
refused."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.pricing.offers import OfferBandit, best_fixed_policy, offer_for

# per segment and offer: mean profit per exposure and coupon spend per exposure (offer 0: no coupon)
VALUE = np.array([[1.00, 1.10, 1.30, 0.90], [2.00, 1.80, 1.70, 1.50], [0.50, 0.70, 0.60, 0.40]])
SPEND = np.array([[0.0, 0.05, 0.15, 0.30], [0.0, 0.10, 0.20, 0.40], [0.0, 0.03, 0.08, 0.20]])
EXPOSURE = np.array([1000.0, 800.0, 1500.0])


def _play(bandit: OfferBandit, rounds: int, seed: int, noise: float = 0.15) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    earned = spent = 0.0
    idx = np.arange(3)
    for _ in range(rounds):
        exposure = EXPOSURE * rng.uniform(0.8, 1.2)
        choice = bandit.choose(exposure)
        value = exposure * (VALUE[idx, choice] + rng.normal(0, noise, 3))
        spend = exposure * SPEND[idx, choice]
        bandit.update(choice, exposure, value, spend)
        earned += float((exposure * VALUE[idx, choice]).sum())
        spent += float(spend.sum())
    return earned, spent


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bandit_finds_each_segments_best_offer(seed: int) -> None:
    bandit = OfferBandit(3, 4, seed=seed)
    earned, _ = _play(bandit, 150, seed)
    assert bandit.best().tolist() == [2, 0, 1]
    best = float((EXPOSURE * VALUE.max(axis=1)).sum()) * 150
    worst_single = float((EXPOSURE[:, None] * VALUE).sum(axis=0).min()) * 150
    assert earned > 0.95 * best > worst_single  # near the optimum, far from a bad fixed offer


def test_the_bandit_keeps_to_its_budget() -> None:
    unbudgeted = OfferBandit(3, 4, seed=5)
    _, free_spend = _play(unbudgeted, 100, 5)
    budget = 0.3 * free_spend
    bandit = OfferBandit(3, 4, budget=budget, rounds=100, seed=5)
    _, spent = _play(bandit, 100, 5)
    assert spent <= budget
    assert spent >= 0.5 * budget  # it spends the money rather than hoarding it
    assert bandit.lam > 0


def test_state_survives_a_save() -> None:
    bandit = OfferBandit(3, 4, budget=500.0, rounds=20, seed=1)
    _play(bandit, 7, 1)
    again = OfferBandit.from_state(bandit.to_state())
    for name in ("n", "sum_y", "sum_y2", "sum_c"):
        assert np.array_equal(getattr(again, name), getattr(bandit, name))
    assert (again.lam, again.spent, again.played) == (bandit.lam, bandit.spent, bandit.played)
    assert again.best().tolist() == bandit.best().tolist()


def test_a_new_offer_is_tried_in_one_segment_and_the_others_learn_from_it() -> None:
    bandit = OfferBandit(3, 3, seed=0)
    exposure = np.array([100.0, 300.0, 200.0])
    first = bandit.choose(exposure)
    assert first.tolist() == [0, 0, 0]  # every segment's control first
    bandit.update(first, exposure, exposure * 1.0, np.zeros(3))
    bandit.update(first, exposure, exposure * 1.02, np.zeros(3))  # a second round: its noise is known
    second = bandit.choose(exposure)
    assert second.tolist() == [0, 1, 0]  # the new offer in the largest segment only
    # it lost a third of the profit there: the other segments' prior for it is poor, so they skip it
    bandit.update(second, exposure, exposure * np.array([1.01, 0.66, 1.01]), np.zeros(3))
    mean, _ = bandit.posterior()
    assert mean[0, 1] == pytest.approx(0.66, abs=0.01) and mean[2, 1] == pytest.approx(0.66, abs=0.01)
    third = bandit.choose(exposure)
    assert third[1] == 2  # the last new offer, in the largest segment again
    assert third[0] != 1 and third[2] != 1


def test_best_fixed_policy_is_the_exhaustive_optimum() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        profit, spend = rng.normal(10, 3, (3, 4)), rng.uniform(0, 5, (3, 4))
        budget = float(rng.uniform(2, 10))
        got = best_fixed_policy(profit, spend, budget)
        brute = max(
            (
                c
                for c in itertools.product(range(4), repeat=3)
                if sum(spend[s, c[s]] for s in range(3)) <= budget
            ),
            key=lambda c: sum(profit[s, c[s]] for s in range(3)),
            default=None,
        )
        if brute is not None:
            assert tuple(got) == brute
        single = best_fixed_policy(profit, spend, budget, per_segment=False)
        assert len(set(single.tolist())) == 1


def test_an_offer_depends_on_the_segment_alone() -> None:
    policy = {"new": 2, "loyal": 0}
    menu = ["no coupon", "5% off", "10% off"]
    assert offer_for(policy, "new", menu) == offer_for(policy, "new", menu) == "10% off"
    assert offer_for(policy, "unknown stage", menu) == "no coupon"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_segments": 0, "n_offers": 3},
        {"n_segments": 2, "n_offers": 1},
        {"n_segments": 2, "n_offers": 3, "budget": 10.0},
    ],
)
def test_bad_bandits_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        OfferBandit(**kwargs)  # type: ignore[arg-type]


def test_the_guard_keeps_the_policy_near_no_coupon_when_coupons_lose() -> None:
    value = np.array([[1.0, 0.8, 0.7, 0.6]] * 3)  # every coupon loses money in every segment
    rng_seeds = range(5)
    losses = {}
    for guard in (None, 0.01):
        lost = []
        for seed in rng_seeds:
            bandit = OfferBandit(3, 4, seed=seed, max_loss=guard, depth=(0.0, 0.05, 0.1, 0.2))
            rng = np.random.default_rng(seed)
            earned = control = 0.0
            for _ in range(60):
                exposure = EXPOSURE * rng.uniform(0.8, 1.2)
                choice = bandit.choose(exposure)
                got = exposure * (value[np.arange(3), choice] + rng.normal(0, 0.15, 3))
                bandit.update(choice, exposure, got, np.zeros(3))
                earned += float((exposure * value[np.arange(3), choice]).sum())
                control += float(exposure.sum())
            lost.append(1 - earned / control)
        losses[guard] = float(np.mean(lost))
    assert losses[0.01] <= 0.015 < losses[None]  # about 1.1 % with the guard, 2.3 % without
