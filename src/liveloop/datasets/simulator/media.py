"""Paid media in a simulated world (on when ``ModelParams.media_budget`` > 0): each channel's daily spend,
flighted week by week, and the traffic lift it buys through carry-over and saturation.

The lift multiplies the day's traffic (browsing and live rooms alike): ``1 + sum_c beta_c * hill(a_c)``,
where ``a_c`` is the channel's adstocked spend in units of the level its mean spend keeps up. Its own
random stream: a world without media is drawn exactly as before.
"""

from __future__ import annotations

import numpy as np

from liveloop.core.curves import hill, level
from liveloop.datasets.simulator.config import (
    MEDIA_CHANNELS,
    MEDIA_DAILY_NOISE,
    MEDIA_LEVELS,
    SimConfig,
)

NAMES = tuple(c[0] for c in MEDIA_CHANNELS)
SHARE = np.array([c[2] for c in MEDIA_CHANNELS])
DECAY = np.array([c[3] for c in MEDIA_CHANNELS])
HALF = np.array([c[4] for c in MEDIA_CHANNELS])
SHAPE = np.array([c[5] for c in MEDIA_CHANNELS])
BETA = np.array([c[6] for c in MEDIA_CHANNELS])


def mean_spend(cfg: SimConfig) -> np.ndarray:
    """Each channel's mean daily spend (CNY): the budget per 1,000 users times the users, by share."""
    return cfg.params.media_budget * cfg.users / 1000 * SHARE


def spend_plan(cfg: SimConfig) -> np.ndarray:
    """(channels, days) CNY: each week a level from MEDIA_LEVELS times the channel's mean, independently
    per channel, with lognormal day-to-day noise (mean 1). All zero without a media budget."""
    out = np.zeros((len(MEDIA_CHANNELS), cfg.days))
    if cfg.params.media_budget <= 0:
        return out
    rng = np.random.default_rng([cfg.seed, 411])
    weeks = -(-cfg.days // 7)
    levels = rng.choice(np.array(MEDIA_LEVELS), size=(len(MEDIA_CHANNELS), weeks))
    daily = np.repeat(levels, 7, axis=1)[:, : cfg.days]
    noise = np.exp(rng.normal(0.0, MEDIA_DAILY_NOISE, out.shape) - MEDIA_DAILY_NOISE**2 / 2)
    return np.round(mean_spend(cfg)[:, None] * daily * noise, 2)


def channel_lift(spend: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(channels, days): each channel's share of extra traffic from a (channels, days) spend history."""
    return np.asarray(BETA[:, None] * hill(level(spend, DECAY, mean), HALF[:, None], SHAPE[:, None]))


def steady_lift(daily: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Each channel's lift at a constant daily spend ``daily`` (CNY, one per channel), once carry-over
    has settled: the true response curve."""
    return np.asarray(BETA * hill(np.asarray(daily, dtype=float) / np.maximum(mean, 1e-9), HALF, SHAPE))
