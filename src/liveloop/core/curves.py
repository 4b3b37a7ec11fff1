"""Media response curves as marketing-mix models write them (Jin et al. 2017, Google; Robyn; PyMC-Marketing):
geometric carry-over (adstock) and Hill saturation. Pure NumPy: the simulator's world and the budget
model share the functional form, never the parameters."""

from __future__ import annotations

import numpy as np


def adstock(spend: np.ndarray, decay: float | np.ndarray) -> np.ndarray:
    """Geometric carry-over along the last axis: ``a[t] = x[t] + decay * a[t-1]`` (``decay`` in [0, 1),
    one per row when ``spend`` is 2-D). At a constant spend ``x`` the level tends to ``x / (1 - decay)``."""
    x = np.asarray(spend, dtype=float)
    d = np.broadcast_to(np.asarray(decay, dtype=float), x.shape[:-1])
    out = np.empty_like(x)
    level = np.zeros(x.shape[:-1])
    for t in range(x.shape[-1]):
        level = x[..., t] + d * level
        out[..., t] = level
    return out


def hill(x: np.ndarray, half: float | np.ndarray, shape: float | np.ndarray) -> np.ndarray:
    """Saturation from 0 to 1: ``x^S / (x^S + K^S)``; ``half`` (K) is where it reaches one half, ``shape``
    (S) > 1 makes it S-shaped, S ≤ 1 concave. Negative inputs count as 0."""
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    xs = x**shape
    return np.asarray(xs / (xs + np.asarray(half, dtype=float) ** shape))


def level(spend: np.ndarray, decay: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(channels, days) adstocked spend in units of the level each channel's ``mean`` daily spend keeps
    up (1 at a constant mean spend, once carry-over has settled): the input of its Hill curve."""
    d = np.asarray(decay, dtype=float)
    return adstock(spend, d) * (1 - d)[:, None] / np.maximum(np.asarray(mean, dtype=float), 1e-9)[:, None]
