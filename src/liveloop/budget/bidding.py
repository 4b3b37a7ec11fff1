"""Bidding for impressions in second-price auctions (the paid traffic live rooms buy), under a budget.

An impression has a value ``θ`` to the advertiser (its predicted click probability, or predicted
conversion × margin) and a market price ``z`` (the highest other bid: paid when won). Three bid functions:

- **linear**: ``b = b₀ · θ / θ̄`` — the industry default; ``b₀`` is tuned so the budget is spent.
- **ORTB1** (Zhang, Yuan & Wang, KDD 2014): with the winning rate ``w(b) = b / (c + b)``, the bid that
  maximises the value won under the budget is ``b = sqrt(c θ / λ + c²) − c``.
- **ORTB2**: with ``w(b) = b² / (c² + b²)``, ``b = c [((θ + r) / (cλ))^⅓ − (cλ / (θ + r))^⅓]``,
  ``r = sqrt(c² λ² + θ²)``.

``c`` is fitted to the market prices seen before (the winning curve), ``λ`` (or ``b₀``) by bisection so the
bids would have spent the budget on a training stream; a :class:`Pacer` then corrects ``λ`` as the day's
spend runs ahead of or behind its plan. The ORTB functions are concave: under a tight budget they bid
more on the many cheap, modest impressions and less on the rare valuable ones than a linear bid does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed

STRATEGIES = ("linear", "ortb1", "ortb2")
#: Highest bid a bidder ever places, as a multiple of the highest market price seen in training.
MAX_BID_FACTOR = 3.0


def win_curve_c(market_prices: np.ndarray, *, form: str = "ortb1") -> float:
    """The ``c`` of ``w(b) = b/(c+b)`` (ortb1) or ``b²/(c²+b²)`` (ortb2) closest (least squares over a
    grid of bids) to the empirical winning rate of ``market_prices``."""
    z = np.sort(np.asarray(market_prices, dtype=float))
    if len(z) < 10 or not np.all(np.isfinite(z)) or (z < 0).any():
        raise ValidationFailed("at least 10 non-negative market prices are needed", field="market_prices")
    bids = np.quantile(z, np.linspace(0.02, 0.98, 49))
    empirical = np.searchsorted(z, bids, side="right") / len(z)
    candidates = np.geomspace(max(z.mean() / 100, 1e-6), z.max() * 10, 400)
    if form == "ortb1":
        model = bids[None, :] / (candidates[:, None] + bids[None, :])
    else:
        model = bids[None, :] ** 2 / (candidates[:, None] ** 2 + bids[None, :] ** 2)
    return float(candidates[int(np.argmin(((model - empirical[None, :]) ** 2).sum(axis=1)))])


def bid_values(
    strategy: str, theta: np.ndarray, *, c: float, lam: float, base: float, mean_theta: float
) -> np.ndarray:
    """The bids of ``strategy`` for values ``theta`` (vectorised; one call per batch of requests)."""
    t = np.maximum(np.asarray(theta, dtype=float), 0.0)
    if strategy == "linear":
        return base * t / mean_theta
    if strategy == "ortb1":
        return np.sqrt(c * t / lam + c * c) - c
    if strategy == "ortb2":
        r = np.sqrt(c * c * lam * lam + t * t)
        a = (t + r) / (c * lam)
        return c * (np.cbrt(a) - np.cbrt(1 / a))
    raise ValidationFailed(f"strategy must be one of {', '.join(STRATEGIES)}", field="strategy")


@dataclass
class Bidder:
    """A bid function fitted to a training stream: ``bid(theta)`` for one request, ``bids`` for many."""

    strategy: str
    c: float
    lam: float
    base: float
    mean_theta: float
    cap: float

    def bids(self, theta: np.ndarray, *, lam: float | None = None) -> np.ndarray:
        raw = bid_values(
            self.strategy, theta, c=self.c, lam=lam or self.lam, base=self.base, mean_theta=self.mean_theta
        )
        return np.minimum(raw, self.cap)

    def bid(self, theta: float) -> float:
        return float(self.bids(np.array([theta]))[0])

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("strategy", "c", "lam", "base", "mean_theta", "cap")}


def _spend(bids: np.ndarray, z: np.ndarray) -> float:
    return float(z[bids > z].sum())


def fit_bidder(strategy: str, theta: np.ndarray, market_prices: np.ndarray, budget: float) -> Bidder:
    """Fit ``strategy`` on a training stream so that its bids would spend ``budget`` there (or bid up to
    the cap where even that cannot spend it)."""
    if strategy not in STRATEGIES:
        raise ValidationFailed(f"strategy must be one of {', '.join(STRATEGIES)}", field="strategy")
    theta = np.asarray(theta, dtype=float)
    z = np.asarray(market_prices, dtype=float)
    if len(theta) != len(z) or len(z) < 10:
        raise ValidationFailed(
            "the training stream needs a value and a market price per impression", field="theta"
        )
    if not budget > 0:
        raise ValidationFailed("the budget must be above zero", field="budget")
    cap = float(z.max() * MAX_BID_FACTOR)
    mean_theta = float(max(theta.mean(), 1e-12))
    c = win_curve_c(z, form="ortb2" if strategy == "ortb2" else "ortb1")
    bidder = Bidder(strategy, c, 1.0, 1.0, mean_theta, cap)
    if strategy == "linear":  # spend grows with the base bid
        lo, hi = 1e-9, cap
        for _ in range(80):
            mid = float(np.sqrt(lo * hi))
            bidder.base = mid
            if _spend(bidder.bids(theta), z) > budget:
                hi = mid
            else:
                lo = mid
        bidder.base = lo
        return bidder
    lo, hi = 1e-15, 1e6  # spend falls as λ grows
    for _ in range(120):
        mid = float(np.sqrt(lo * hi))
        if _spend(bidder.bids(theta, lam=mid), z) > budget:
            lo = mid
        else:
            hi = mid
    bidder.lam = hi
    return bidder


@dataclass
class Pacer:
    """Keeps the day's spend on its plan: λ (or the base bid) is scaled every ``every`` requests by
    ``(spent / planned) ** gain`` — bid less when ahead of the plan, more when behind."""

    budget: float
    total: int  # requests expected in the period
    every: int = 1000
    gain: float = 1.0
    factor: float = 1.0
    history: list[float] = field(default_factory=list)

    def update(self, spent: float, seen: int) -> float:
        planned = self.budget * seen / max(self.total, 1)
        if planned > 0 and spent > 0:
            self.factor = float(np.clip(self.factor * (spent / planned) ** self.gain, 0.05, 20))
        self.history.append(self.factor)
        return self.factor


def run_auctions(
    bidder: Bidder,
    theta: np.ndarray,
    market_prices: np.ndarray,
    budget: float,
    *,
    clicks: np.ndarray | None = None,
    conversions: np.ndarray | None = None,
    values: np.ndarray | None = None,
    pacing: bool = True,
    every: int = 1000,
) -> dict[str, Any]:
    """Replay a stream in order: bid, win when the bid beats the market price, pay it, stop at the
    budget. Returns impressions, clicks and conversions won (and the sum of ``values``: e.g. each
    impression's true expected profit), spend, eCPC and the decisions per second."""
    import time

    theta = np.asarray(theta, dtype=float)
    z = np.asarray(market_prices, dtype=float)
    n = len(z)
    pacer = Pacer(budget, n, every=every)
    won = np.zeros(n, dtype=bool)
    spent = 0.0
    start = time.perf_counter()
    for lo in range(0, n, every):
        hi = min(lo + every, n)
        factor = pacer.factor if pacing else 1.0
        if bidder.strategy == "linear":
            bids = np.minimum(bid_values("linear", theta[lo:hi], c=bidder.c, lam=1, base=bidder.base / factor,
                                         mean_theta=bidder.mean_theta), bidder.cap)  # fmt: skip
        else:
            bids = bidder.bids(theta[lo:hi], lam=bidder.lam * factor)
        win = bids > z[lo:hi]
        cost = np.cumsum(np.where(win, z[lo:hi], 0.0))
        within = spent + cost <= budget
        win &= within
        won[lo:hi] = win
        spent += float(z[lo:hi][win].sum())
        if pacing:
            pacer.update(spent, hi)
        if spent >= budget * 0.9999:
            break
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "impressions": int(won.sum()),
        "spend": round(spent, 2),
        "budget": budget,
        "decisions_per_second": round(n / max(seconds, 1e-9)),
    }
    if clicks is not None:
        out["clicks"] = int(np.asarray(clicks)[won].sum())
        out["ecpc"] = round(spent / out["clicks"], 4) if out["clicks"] else None
    if conversions is not None:
        out["conversions"] = int(np.asarray(conversions)[won].sum())
    if values is not None:
        out["value"] = round(float(np.asarray(values)[won].sum()), 2)
    return out
