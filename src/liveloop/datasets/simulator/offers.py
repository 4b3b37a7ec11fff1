"""Coupon offers in a simulated world: the rounds an offer policy is measured on (never real data).

A round is one day. Every user alive that day browses as the world's browsing model has it (views per day
``activity × browse_per_user_day × day factor``, products by taste and popularity); a share
``LIVE_VIEW_SHARE`` of the views happen in live rooms (with the world's live terms: bonus, impulsiveness).
An offer is a percent-off coupon with a timing — ``live``: valid on live-room views only; ``any``: valid
everywhere — or no coupon. A view turns into a purchase with the world's funnel probability, the coupon
entering the utility as ``g_coupon · coupon / list price``; a buyer holding a valid coupon redeems it.
Profit of a purchase: shelf price − cost − the coupon redeemed; its GMV: the price paid (shelf price −
coupon).

The round gives the *expected* profit and coupon spend of every offer for every segment (the truth the
Oracle and the regret are computed from) and, for any choice of one offer per segment, the *realised*
profit and spend (one uniform draw per view shared by all offers, so offers are compared on the same
luck). ``LIVE_VIEW_SHARE`` is an assumption of this harness, not a fitted figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveloop.datasets.simulator.utility import funnel, utility
from liveloop.datasets.simulator.world import DAY, World

LIVE_VIEW_SHARE = 0.3
TIMINGS = ("live", "any")


@dataclass(frozen=True)
class Offer:
    """A published coupon offer: ``percent`` off the shelf price, valid in live rooms only or anywhere."""

    percent: float
    timing: str = "any"

    @property
    def name(self) -> str:
        if self.percent <= 0:
            return "no coupon"
        where = "in live rooms" if self.timing == "live" else "anywhere"
        return f"{self.percent:g}% off {where}"


OBJECTIVES = ("profit", "gmv")


@dataclass
class OfferRound:
    """One day's views of the segments' members and what each offer would make of them."""

    day: int
    members: np.ndarray  # (segments,) users alive that day
    views: np.ndarray  # (segments,) product views that day (the exposure a policy can count)
    segment_of_view: np.ndarray  # (views,)
    prob: np.ndarray  # (views, offers) purchase probability under each offer
    buy: np.ndarray  # (views, offers) whether the view buys under each offer (one draw shared by all)
    price: np.ndarray  # (views,) shelf price
    margin: np.ndarray  # (views,) shelf price − cost
    coupon: np.ndarray  # (views, offers) the coupon a buyer redeems under each offer

    def _value(self, objective: str) -> np.ndarray:
        """(views, offers): what a purchase brings — profit after the coupon, or GMV paid."""
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}")
        base = self.margin if objective == "profit" else self.price
        return base[:, None] - self.coupon

    def expected(self, objective: str = "profit") -> tuple[np.ndarray, np.ndarray]:
        """(segments, offers) expected value and expected coupon spend: the truth."""
        n_seg, n_off = len(self.members), self.prob.shape[1]
        value, seg = self.prob * self._value(objective), self.segment_of_view
        spend = self.prob * self.coupon
        out = [np.stack([np.bincount(seg, x[:, k], n_seg) for k in range(n_off)], 1) for x in (value, spend)]
        return out[0], out[1]

    def realised(self, choice: np.ndarray, objective: str = "profit") -> tuple[np.ndarray, np.ndarray]:
        """Realised (value, spend) per segment when segment ``s`` gets offer ``choice[s]``."""
        n_seg = len(self.members)
        cols = np.asarray(choice)[self.segment_of_view]
        rows = np.arange(len(cols))
        bought = self.buy[rows, cols]
        seg = self.segment_of_view
        value = np.bincount(seg, weights=bought * self._value(objective)[rows, cols], minlength=n_seg)
        spend = np.bincount(seg, weights=bought * self.coupon[rows, cols], minlength=n_seg)
        return value, spend


def offer_round(
    world: World, segment: np.ndarray, n_segments: int, offers: list[Offer], day: int, *, seed: int = 0
) -> OfferRound:
    """Draw day ``day``'s views of the users with a segment (``segment[i] >= 0``) and price every offer."""
    p = world.config.params
    u, pr = world.users, world.products
    rng = np.random.default_rng([world.config.seed, 500, seed, day])
    t = world.t0 + day * DAY + DAY / 2
    alive = np.flatnonzero((segment >= 0) & (u.signup <= t) & (u.churn > t))
    members = np.bincount(segment[alive], minlength=n_segments)
    counts = rng.poisson(u.activity[alive] * p.browse_per_user_day * world.day_factor(day))
    users = np.repeat(alive, counts)
    products = world.browse_products(rng, users)
    live = rng.random(len(users)) < LIVE_VIEW_SHARE
    draw = rng.random(len(users))
    price = world.shelf_prices(products, day)
    n = len(users)
    prob = np.zeros((n, len(offers)))
    coupon = np.zeros((n, len(offers)))
    for k, offer in enumerate(offers):
        valid = np.full(n, offer.percent > 0) & (live | (offer.timing == "any"))
        coupon[:, k] = np.where(valid, price * offer.percent / 100.0, 0.0)
        util = utility(world, users, products, day, price=price, coupon=coupon[:, k], live=live)
        p_cart, _, p_buy = funnel(world, util)
        prob[:, k] = p_cart * p_buy
    seg = segment[users]
    return OfferRound(
        day,
        members,
        np.bincount(seg, minlength=n_segments),
        seg,
        prob,
        draw[:, None] < prob,
        price,
        price - pr.cost[products],
        coupon,
    )
