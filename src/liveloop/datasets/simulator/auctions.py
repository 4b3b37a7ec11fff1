"""A stream of ad-impression auctions drawn from a simulated world (for bidding; never real data).

Each request shows one product's ad to one user: users arrive in proportion to their activity, products in
proportion to their browsing weight. The true click probability is ``sigmoid(u + AD_CLICK_OFFSET)`` with
``u`` the world's utility of the pair (so the same users who buy also click), calibrated so the mean
click rate matches the Open Bandit Dataset's uniformly random policy (0.38–0.46 %; realism test); a click
converts with the world's funnel probability. The market price (the highest other bid, in CNY per
impression) is log-normal with a median CPM of ``MEDIAN_CPM`` and a mild tie to the click rate (other
bidders also see good users) — an assumption: no real auction log is at hand, so the figures on this
stream compare bidders with each other, not with a real exchange.

The bidder sees a *predicted* click rate: the truth blurred on the logit scale (``PREDICTION_NOISE``),
like a click model of modest quality; its AUC is reported with the stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveloop.datasets.simulator.utility import funnel, sigmoid, utility
from liveloop.datasets.simulator.world import World

AD_CLICK_OFFSET = -5.0
MEDIAN_CPM = 40.0  # CNY per thousand impressions
PRICE_SIGMA = 0.8
PRICE_CLICK_TIE = 0.3  # of the price's log s.d., per s.d. of the log click rate
PREDICTION_NOISE = 0.5


def auction_stream(world: World, n: int, *, seed: int = 0, day: int = 0) -> dict[str, Any]:
    """``n`` auctions: arrays ``user, product, ctr, predicted_ctr, cvr, margin, market_price, click,
    conversion`` (market price in CNY per impression)."""
    rng = np.random.default_rng([world.config.seed, 400, seed])
    activity = world.users.activity / world.users.activity.sum()
    users = rng.choice(world.users.n, n, p=activity)
    weight = np.exp(world.products.popularity)
    products = rng.choice(world.products.n, n, p=weight / weight.sum())
    u = utility(world, users, products, day)
    ctr = sigmoid(u + AD_CLICK_OFFSET)
    p_cart, _, p_buy = funnel(world, u)
    cvr = p_cart * p_buy
    logit = np.log(ctr / (1 - ctr))
    predicted = sigmoid(logit + rng.normal(0, PREDICTION_NOISE, n))
    standard = (logit - logit.mean()) / max(logit.std(), 1e-9)
    log_price = np.log(MEDIAN_CPM / 1000) + PRICE_SIGMA * (
        np.sqrt(1 - PRICE_CLICK_TIE**2) * rng.standard_normal(n) + PRICE_CLICK_TIE * standard
    )
    click = rng.random(n) < ctr
    conversion = click & (rng.random(n) < cvr)
    price = world.shelf_prices(products, day)
    return {
        "user": users,
        "product": products,
        "ctr": ctr,
        "predicted_ctr": predicted,
        "cvr": cvr,
        "margin": price - world.products.cost[products],
        "market_price": np.exp(log_price),
        "click": click,
        "conversion": conversion,
    }
