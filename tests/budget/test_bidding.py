"""Bidding: the ORTB bid functions are the optimum of their Lagrangian (checked by brute force), the
winning curve is recovered from market prices, bidders spend their budget and never more, ORTB wins more
clicks than linear bidding under a tight budget on a simulated stream, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from liveloop.budget import STRATEGIES, fit_bidder, run_auctions
from liveloop.budget.bidding import bid_values, win_curve_c
from liveloop.core.errors import ValidationFailed


@pytest.mark.parametrize("form", ["ortb1", "ortb2"])
def test_ortb_bids_maximise_value_less_the_priced_spend(form: str) -> None:
    c, lam = 0.05, 2e-3
    grid = np.linspace(1e-5, 1.0, 200_001)
    win = grid / (c + grid) if form == "ortb1" else grid**2 / (c**2 + grid**2)
    for theta in (1e-4, 1e-3, 5e-3, 2e-2):
        brute = grid[int(np.argmax(theta * win - lam * grid * win))]
        formula = bid_values(form, np.array([theta]), c=c, lam=lam, base=1, mean_theta=1)[0]
        assert formula == pytest.approx(brute, rel=2e-3, abs=1e-5), (theta, formula, brute)


def test_the_winning_curve_is_recovered_from_market_prices() -> None:
    u = np.random.default_rng(0).random(50_000)
    prices = 0.04 * u / (1 - u)  # F(z) = z / (c + z) with c = 0.04
    assert win_curve_c(prices) == pytest.approx(0.04, rel=0.08)
    with pytest.raises(ValidationFailed):
        win_curve_c(np.array([1.0, 2.0]))


def _stream(seed: int, n: int = 200_000) -> dict[str, np.ndarray]:
    from liveloop.datasets.simulator import SimConfig
    from liveloop.datasets.simulator.auctions import auction_stream
    from liveloop.datasets.simulator.world import build_world

    return auction_stream(build_world(SimConfig.preset("small", seed=21)), n, seed=seed)


def test_bidders_spend_their_budget_never_more_and_ortb_wins_more_when_it_is_tight() -> None:
    train, test = _stream(1), _stream(2)
    results = {}
    for share in (4, 32):
        budget_train = float(train["market_price"].sum()) / share
        budget = float(test["market_price"].sum()) / share
        for strategy in STRATEGIES:
            bidder = fit_bidder(strategy, train["predicted_ctr"], train["market_price"], budget_train)
            trained = run_auctions(
                bidder, train["predicted_ctr"], train["market_price"], budget_train, pacing=False
            )
            assert trained["spend"] == pytest.approx(budget_train, rel=0.02)
            out = run_auctions(
                bidder, test["predicted_ctr"], test["market_price"], budget, clicks=test["click"]
            )
            assert out["spend"] <= budget + 1e-6 and out["spend"] > 0.9 * budget
            assert 0 < bidder.bid(0.004) <= bidder.cap
            results[(share, strategy)] = out["clicks"]
    assert results[(32, "ortb1")] > results[(32, "linear")]
    assert results[(4, "ortb1")] >= 0.97 * results[(4, "linear")]


def test_bad_bidding_input_is_refused() -> None:
    theta, prices = np.full(100, 0.01), np.full(100, 0.05)
    for kwargs, field in (
        ({"strategy": "max"}, "strategy"),
        ({"budget": 0.0}, "budget"),
        ({"theta": np.full(5, 0.01)}, "theta"),
    ):
        args = {"strategy": "ortb1", "theta": theta, "market_prices": prices, "budget": 1.0} | kwargs
        with pytest.raises(ValidationFailed) as err:
            fit_bidder(**args)
        assert err.value.field == field
