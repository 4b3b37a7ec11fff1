"""Statistics that compare a simulated world with real logs (used by the realism tests and docs)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0 = equal, 1 = all in one)."""
    x = np.sort(np.asarray(counts, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(2 * (i * x).sum() / (n * x.sum()) - (n + 1) / n)


def observed_item_gini(item_ids: np.ndarray, events_per_seen_item: float, *, repeats: int = 10) -> float:
    """Gini of item counts in uniform subsamples as deep as a real log: ``events_per_seen_item`` events per
    distinct item seen (the Taobao head has 1.53).

    A real log is a thin sample of a large catalogue, so popularity concentration is compared at the same
    sampling depth rather than on the full simulated log. Each of ``repeats`` subsamples is a prefix of its
    own random permutation, its length found by bisection (events per distinct item grows with the
    sample); the result is their mean.
    """
    items = pd.factorize(np.asarray(item_ids))[0]
    rng = np.random.default_rng(0)
    values = []
    for _ in range(repeats):
        shuffled = items[rng.permutation(len(items))]
        lo, hi = 1, len(items)
        while lo < hi:
            mid = (lo + hi) // 2
            if mid / len(np.unique(shuffled[:mid])) < events_per_seen_item:
                lo = mid + 1
            else:
                hi = mid
        counts = np.bincount(shuffled[:lo])
        values.append(gini(counts[counts > 0]))
    return float(np.mean(values))


def funnel_ratios(
    types: pd.Series, view: str = "pv", cart: str = "cart", fav: str = "fav", buy: str = "buy"
) -> dict:
    """cart/view, fav/view and buy/view of an event-type column."""
    counts = types.value_counts()
    base = counts.get(view, 0)
    return {
        name: float(counts.get(code, 0) / base) for name, code in (("cart", cart), ("fav", fav), ("buy", buy))
    }


def burstiness(times_s: np.ndarray, bin_s: float = 10.0) -> dict[str, float]:
    """Per-bin counts of a comment stream: mean, Fano factor and the excess dispersion of its intensity.

    ``excess = (var - mean) / mean**2`` is the squared coefficient of variation of the underlying rate for a
    doubly-stochastic Poisson stream; unlike the Fano factor it does not grow with the room's size.
    """
    t = np.asarray(times_s, dtype=float)
    t = t - t.min()
    counts = np.bincount((t // bin_s).astype(np.int64))
    mean, var = counts.mean(), counts.var()
    return {"mean": float(mean), "fano": float(var / mean), "excess": float((var - mean) / mean**2)}


def room_visits(events: pd.DataFrame) -> pd.DataFrame:
    """One row per live-room visit (``user_id``, ``session_id``, ``enter``, ``leave``), pairing each user's
    k-th ``enter_room`` in a session with their k-th ``leave_room``."""
    room = events[events["type"].isin(["enter_room", "leave_room"])].sort_values("ts", kind="stable")
    room = room.assign(k=room.groupby(["user_id", "session_id", "type"]).cumcount())
    stays = room.pivot_table(
        index=["user_id", "session_id", "k"], columns="type", values="ts", aggfunc="first"
    )
    return stays.rename(columns={"enter_room": "enter", "leave_room": "leave"}).reset_index()[
        ["user_id", "session_id", "enter", "leave"]
    ]


def price_dynamics(prices: pd.DataFrame, key: str = "key", period: str = "period") -> dict[str, float]:
    """How a price history moves, per ``key`` over consecutive ``period``s (weeks, months): the share of
    periods whose price differs from the previous one by more than 0.5 %, the share of periods at least 5 %
    below the key's highest price, and the median depth of those."""
    d = prices.sort_values([key, period])
    prev = d.groupby(key)["price"].shift()
    gap = d[period] - d.groupby(key)[period].shift()
    step = gap == 1
    changed = (np.abs(d["price"] / prev - 1) > 0.005)[step]
    depth = 1 - d["price"] / d.groupby(key)["price"].transform("max")
    below = depth >= 0.05
    return {
        "change_share": float(changed.mean()),
        "below_share": float(below.mean()),
        "median_depth": float(depth[below].median()) if below.any() else 0.0,
    }
