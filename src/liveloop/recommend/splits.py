"""Train/test splits: by time (the default), and the per-user stratified split of published tables."""

from __future__ import annotations

import numpy as np

from liveloop.core.errors import InsufficientData
from liveloop.recommend.interactions import Interactions


def time_split(data: Interactions, test_fraction: float = 0.2) -> tuple[Interactions, Interactions]:
    """Everything before the time quantile ``1 - test_fraction`` trains; the rest tests. No leakage."""
    if len(data) < 2:
        raise InsufficientData("too few interactions to split by time")
    cutoff = np.quantile(data.ts, 1.0 - test_fraction)
    train = data.ts < cutoff
    if train.all() or not train.any():
        raise InsufficientData("all interactions share one timestamp: a time split is impossible")
    return data.subset(train), data.subset(~train)


def stratified_split(
    data: Interactions, ratio: float = 0.75, seed: int = 42
) -> tuple[Interactions, Interactions]:
    """Per user, a random ``ratio`` of their events train and the rest test (Microsoft Recommenders'
    ``python_stratified_split`` protocol, ``filter_by='user'``)."""
    rng = np.random.default_rng(seed)
    noise = rng.random(len(data))
    order = np.lexsort((noise, data.user_idx))
    users = data.user_idx[order]
    starts = np.searchsorted(users, users, side="left")
    counts = np.bincount(users, minlength=data.n_users)[users]
    rank = np.arange(len(order)) - starts
    train_sorted = rank < np.round(counts * ratio)
    train = np.zeros(len(data), dtype=bool)
    train[order[train_sorted]] = True
    return data.subset(train), data.subset(~train)
