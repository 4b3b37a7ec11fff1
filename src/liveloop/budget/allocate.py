"""Allocating a paid-media budget over channels from their response curves: the most extra GMV for a
total, or the largest total whose return still meets a target ROI; each channel kept between bounds
relative to its last period (0.7–1.5× by default, as Robyn does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from liveloop.core.errors import ValidationFailed

#: Default bounds of a channel's daily spend, as multiples of its mean over the last period.
LOW, HIGH = 0.7, 1.5
Response = Callable[[float], float]  # extra GMV a day at a constant daily spend


def _best(
    curves: Sequence[Response], low: np.ndarray, high: np.ndarray, total: float, seed: int
) -> np.ndarray:
    """The daily spends within [low, high] summing to ``total`` with the most response (SLSQP from the
    proportional split and a few random feasible points: S-shaped curves have local optima)."""
    from scipy.optimize import minimize

    span = high - low
    if total <= low.sum() + 1e-9 or span.sum() <= 1e-12:
        return low.copy()
    if total >= high.sum() - 1e-9:
        return high.copy()
    scale = max(float(high.max()), 1.0)

    def value(x: np.ndarray) -> float:
        return -sum(f(float(v) * scale) for f, v in zip(curves, x, strict=True)) / scale

    rng = np.random.default_rng(seed)
    starts = [low + span * (total - low.sum()) / span.sum()]
    for _ in range(5):
        w = rng.dirichlet(np.ones(len(low))) * (total - low.sum())
        starts.append(np.minimum(low + w, high))
    best, best_v = starts[0], value(starts[0] / scale)
    for x0 in starts:
        done = minimize(
            value,
            x0 / scale,
            method="SLSQP",
            bounds=list(zip(low / scale, high / scale, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - total / scale}],
            options={"maxiter": 300, "ftol": 1e-12},
        )
        x = np.clip(done.x * scale, low, high)
        if abs(x.sum() - total) <= 1e-6 * max(total, 1.0) and value(x / scale) < best_v:
            best, best_v = x, value(x / scale)
    return best


def bounds(last: Sequence[float], low: float = LOW, high: float = HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's daily spend bounds: ``low``–``high`` times its last-period mean."""
    if not 0 <= low <= 1:
        raise ValidationFailed(f"the lower bound is 0 to 1 × last period's spend, not {low}", field="low")
    if not 1 <= high <= 10:
        raise ValidationFailed(f"the upper bound is 1 to 10 × last period's spend, not {high}", field="high")
    base = np.asarray(last, dtype=float)
    return base * low, base * high


def allocate(
    curves: Sequence[Response],
    low: np.ndarray,
    high: np.ndarray,
    *,
    total: float | None = None,
    target_roi: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Daily spend per channel: the most response for a daily ``total``, or (``target_roi``) the largest
    total whose response per CNY is still at least the target."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if (total is None) == (target_roi is None):
        raise ValidationFailed("give either a total budget or a target ROI (one of the two)", field="total")
    if total is not None:
        if total < low.sum() - 1e-6 or total > high.sum() + 1e-6:
            raise ValidationFailed(
                f"a daily total of {total:,.2f} is outside what the channels' bounds allow "
                f"({low.sum():,.2f}–{high.sum():,.2f} a day)",
                field="total",
            )
        return _best(curves, low, high, total, seed)
    assert target_roi is not None
    if target_roi <= 0:
        raise ValidationFailed("the target ROI is extra GMV per CNY spent, above 0", field="target_roi")

    def roi(x: np.ndarray) -> float:
        spent = float(x.sum())
        return sum(f(float(v)) for f, v in zip(curves, x, strict=True)) / spent if spent > 0 else np.inf

    lo_t, hi_t = float(low.sum()), float(high.sum())
    best = _best(curves, low, high, lo_t, seed)
    if roi(best) < target_roi:
        raise ValidationFailed(
            f"even the smallest budget the bounds allow returns {roi(best):.2f} per CNY, below the "
            f"target {target_roi:g}: lower the target or the bounds",
            field="target_roi",
        )
    top = _best(curves, low, high, hi_t, seed)
    if roi(top) >= target_roi:
        return top
    for _ in range(40):  # the return per CNY falls as the total grows: bisect on the total
        mid = (lo_t + hi_t) / 2
        x = _best(curves, low, high, mid, seed)
        if roi(x) >= target_roi:
            lo_t, best = mid, x
        else:
            hi_t = mid
        if hi_t - lo_t <= 1e-4 * hi_t:
            break
    return best
