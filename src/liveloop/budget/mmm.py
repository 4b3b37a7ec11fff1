"""A marketing-mix model of daily GMV and paid-media spend: each channel's response curve, with carry-over
(geometric adstock) and saturation (Hill), as PyMC-Marketing and Robyn fit them, in a lighter form — a
regularised nonlinear least-squares fit (MAP under weak priors) with several starts.

The model, on the local day ``t`` (``a_ct``: channel ``c``'s adstocked spend in units of the level its
mean spend keeps up)::

    log GMV_t = alpha + weekday_t + festival_t + trend * t/T + log(1 + sum_c beta_c * hill(a_ct; K_c, S_c))

so ``beta_c * hill(.)`` is the share of extra GMV the channel buys on top of the baseline; the baseline
holds the weekly pattern, the e-commerce festivals (11.11, 6.18, 12.12 and their run-ups) and a trend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.curves import hill, level
from liveloop.core.errors import InsufficientData

#: Festivals of Chinese e-commerce: (name, month, day). Each gets three day-type effects when the data
#: holds them: the day itself, the three days before (pre-sales) and the two after.
FESTIVALS = (("double11", 11, 11), ("618", 6, 18), ("double12", 12, 12))
#: Bounds of each channel's parameters: carry-over decay, half-saturation K (in units of the level the
#: channel's mean spend keeps up), shape S and the largest lift beta.
BOUNDS = {"decay": (0.0, 0.9), "half": (0.2, 5.0), "shape": (0.5, 3.0), "beta": (0.0, 1.5)}
#: Weak priors (MAP): K and S near 1 on the log scale, carry-over near 0.3 (PyMC-Marketing's default
#: adstock prior is Beta(1, 3), mean 0.25), and a half-normal on each channel's largest lift (a channel
#: rarely adds more than a fifth to sales: without it, a few weeks of data let one channel claim most of
#: the variation), with these standard deviations.
PRIOR_SD = {"half": 1.0, "shape": 1.0, "decay": 0.3, "beta": 0.2}
PRIOR_DECAY = 0.3
MIN_DAYS = 28
STARTS = 8


@dataclass
class Curve:
    """One channel's fitted response: ``lift(daily) = beta * hill(daily / mean_spend; half, shape)`` once
    carry-over has settled."""

    channel: str
    decay: float
    half: float
    shape: float
    beta: float
    mean_spend: float  # the normaliser: the channel's mean daily spend over the fitted days
    last_spend: float  # its mean daily spend over the last 28 days

    def lift(self, daily: float | np.ndarray) -> np.ndarray:
        """The share of extra GMV a constant daily spend buys (steady state)."""
        level = np.asarray(daily, dtype=float) / max(self.mean_spend, 1e-9)
        return np.asarray(self.beta * hill(level, self.half, self.shape))


@dataclass
class MediaModel:
    """A fitted model: the channels' curves, the baseline GMV a day it multiplies, and how well it fits."""

    curves: list[Curve]
    baseline_gmv: float  # the expected daily GMV without paid media, over the last 28 days (no festival)
    days: int
    start: str
    end: str
    fit: dict[str, float] = field(default_factory=dict)

    def channels(self) -> list[str]:
        return [c.channel for c in self.curves]

    def gain(self, channel: int, daily: float) -> float:
        """The extra GMV a day that channel number ``channel`` buys at a constant daily spend (CNY)."""
        return float(self.baseline_gmv * self.curves[channel].lift(daily))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Day-type columns before the festivals' in the calendar matrix: the six weekdays after Monday.
WEEKDAY_COLUMNS = 6


def _calendar(days: pd.DatetimeIndex) -> np.ndarray:
    """Day-type columns: weekday (Monday is the reference), then the festivals' days the data holds."""
    cols = [(days.weekday == w).astype(float) for w in range(1, 1 + WEEKDAY_COLUMNS)]
    for _name, month, day in FESTIVALS:
        for lo, hi in ((0, 0), (-3, -1), (1, 2)):  # the day, the three before, the two after
            hit = np.array([float(lo <= (d.date() - date(d.year, month, day)).days <= hi) for d in days])
            if hit.any() and not hit.all():
                cols.append(hit)
    return np.column_stack(cols)


def _lift(spend: np.ndarray, mean: np.ndarray, decay: np.ndarray, half: np.ndarray, shape: np.ndarray,
          beta: np.ndarray) -> np.ndarray:  # fmt: skip
    """The days' extra-GMV share of all channels together."""
    return (beta[:, None] * hill(level(spend, decay, mean), half[:, None], shape[:, None])).sum(axis=0)


def fit_media_model(frame: pd.DataFrame, *, seed: int = 0) -> MediaModel:
    """Fit on a daily frame: ``day``, ``gmv`` and one spend column per channel (CNY; see
    :func:`liveloop.budget.spend.daily_frame`). Raises ``InsufficientData`` with the reason when the days or
    the spend do not identify the curves."""
    from scipy.optimize import least_squares

    if len(frame) < MIN_DAYS:
        raise InsufficientData(f"a media model needs {MIN_DAYS}+ days of GMV and spend (got {len(frame)})")
    channels = [c for c in frame.columns if c not in ("day", "gmv")]
    if not channels:
        raise InsufficientData(
            "no paid-media spend to model: import ad spend first (`liveloop budget spend`)"
        )
    spend = frame[channels].to_numpy(dtype=float).T
    gmv = frame["gmv"].to_numpy(dtype=float)
    if (gmv <= 0).any():
        raise InsufficientData("a day without GMV: the model needs sales on every day it fits")
    flat = [c for c, row in zip(channels, spend, strict=True) if np.std(row) < 1e-6 * (np.mean(row) + 1)]
    if flat:
        raise InsufficientData(
            f"spend never varies on {', '.join(flat)}: its effect cannot be told from the baseline"
        )
    days = pd.DatetimeIndex(pd.to_datetime(frame["day"]))
    X = _calendar(days)
    t = np.linspace(0.0, 1.0, len(frame))
    y = np.log(gmv)
    mean = spend.mean(axis=1)
    k, n_base = len(channels), 2 + X.shape[1]  # alpha, trend, calendar

    # the baseline alone first: its residual spread scales the priors
    A = np.column_stack([np.ones(len(y)), t, X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    sigma = float(np.std(y - A @ coef)) or 0.05

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m = p[n_base:].reshape(4, k)
        return p[:n_base], m[0], m[1], m[2], m[3]

    def residuals(p: np.ndarray) -> np.ndarray:
        base, decay, half, shape, beta = unpack(p)
        r = A @ base + np.log1p(_lift(spend, mean, decay, half, shape, beta)) - y
        prior = sigma * np.concatenate(
            [
                np.log(half) / PRIOR_SD["half"],
                np.log(shape) / PRIOR_SD["shape"],
                (decay - PRIOR_DECAY) / PRIOR_SD["decay"],
                beta / PRIOR_SD["beta"],
            ]
        )
        return np.concatenate([r, prior])

    lo = np.concatenate([np.full(n_base, -np.inf)] + [np.full(k, BOUNDS[b][0]) for b in BOUNDS])
    hi = np.concatenate([np.full(n_base, np.inf)] + [np.full(k, BOUNDS[b][1]) for b in BOUNDS])
    lo[n_base + k : n_base + 3 * k] = np.maximum(lo[n_base + k : n_base + 3 * k], 1e-3)
    rng = np.random.default_rng(seed)
    best = None
    for start in range(STARTS):
        media0 = (
            np.concatenate([np.full(k, 0.3), np.ones(k), np.ones(k), np.full(k, 0.1)])
            if start == 0
            else np.concatenate(
                [
                    rng.uniform(
                        lo[n_base + i * k : n_base + (i + 1) * k],
                        np.minimum(hi[n_base + i * k : n_base + (i + 1) * k], 2.0),
                    )
                    for i in range(4)
                ]
            )
        )
        p0 = np.concatenate(
            [coef - np.r_[np.log1p(media0[3 * k :].sum() * 0.5), np.zeros(n_base - 1)], media0]
        )
        done = least_squares(residuals, np.clip(p0, lo + 1e-9, hi - 1e-9), bounds=(lo, hi), method="trf")
        if best is None or done.cost < best.cost:
            best = done
    assert best is not None
    base, decay, half, shape, beta = unpack(best.x)
    fitted = A @ base + np.log1p(_lift(spend, mean, decay, half, shape, beta))
    resid = y - fitted
    ape = np.abs(np.expm1(fitted - y))
    # the baseline of the last 28 days, festivals and trend as they were, without media
    recent = slice(max(0, len(y) - 28), len(y))
    no_festival = A[recent].copy()
    no_festival[:, 2 + WEEKDAY_COLUMNS :] = 0.0
    baseline = float(np.mean(np.exp(no_festival @ base)))
    last = spend[:, recent].mean(axis=1)
    curves = [
        Curve(
            ch,
            float(decay[i]),
            float(half[i]),
            float(shape[i]),
            float(beta[i]),
            float(mean[i]),
            float(last[i]),
        )
        for i, ch in enumerate(channels)
    ]
    return MediaModel(
        curves,
        baseline,
        len(frame),
        str(days[0].date()),
        str(days[-1].date()),
        {
            "r2_log": round(float(1 - np.var(resid) / np.var(y)), 4),
            "mape": round(float(np.mean(ape)), 4),
            "sigma_log": round(float(np.std(resid)), 4),
            "baseline_only_sigma_log": round(sigma, 4),
        },
    )
