"""Popularity and trending: the non-personalised baseline, also per category and per live session."""

from __future__ import annotations

from typing import Self

import numpy as np

from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions


def decayed_counts(
    data: Interactions, half_life_s: float | None, now: int | None = None, *, distinct_users: bool = False
) -> np.ndarray:
    """Per-item sum of event weights, each decayed by its age (no decay when ``half_life_s`` is None).

    ``distinct_users`` counts each (user, item) once, at its latest event, with weight 1: one heavy
    viewer refreshing a page then cannot make an item "trending".
    """
    w = data.weight.astype(np.float64)
    ts, items = data.ts, data.item_idx
    if distinct_users and len(ts):
        order = np.lexsort((ts, items, data.user_idx))
        u, i = data.user_idx[order], items[order]
        last = np.r_[(u[1:] != u[:-1]) | (i[1:] != i[:-1]), True]
        ts, items, w = ts[order][last], i[last], np.ones(int(last.sum()))
    if half_life_s:
        ref = now if now is not None else (int(data.ts.max()) if len(data.ts) else 0)
        w = w * np.exp2(-np.maximum(ref - ts, 0) / half_life_s)
    return np.bincount(items, weights=w, minlength=data.n_items)


class Popularity(Retriever):
    """Items by distinct users, optionally each user's latest touch decayed by its age (trending)."""

    name = "popularity"

    def __init__(self, half_life_s: float | None = None):
        self.half_life_s = half_life_s

    def fit(self, data: Interactions, now: int | None = None) -> Self:
        if self.half_life_s:
            counts = decayed_counts(data, self.half_life_s, now, distinct_users=True)
        else:
            counts = data.item_counts().astype(np.float64)
        top = counts.max() if counts.size and counts.max() > 0 else 1.0
        self.scores_ = (counts / top).astype(np.float32)
        self.n_items_ = data.n_items
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores_, (len(users), self.n_items_))

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return self.scores_.copy()

    def ranking(self, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """The top-``k`` item indices, optionally among ``allowed`` items (a boolean mask)."""
        s = self.scores_.astype(np.float64).copy()
        if allowed is not None:
            s[~allowed] = -np.inf
        order = np.lexsort((np.arange(len(s)), -s))[:k]
        return order[np.isfinite(s[order])]


class Trending(Popularity):
    """Time-decayed popularity (default half-life one day)."""

    name = "trending"

    def __init__(self, half_life_s: float | None = 86_400.0):
        super().__init__(half_life_s=half_life_s)


def popular_by_group(
    data: Interactions, groups: np.ndarray, k: int = 20, half_life_s: float | None = None
) -> dict[str, np.ndarray]:
    """Top-``k`` item indices within each group, where ``groups`` labels each event (category, session …)."""
    w = data.weight.astype(np.float64)
    if half_life_s and len(data.ts):
        w = w * np.exp2(-(data.ts.max() - data.ts) / half_life_s)
    out: dict[str, np.ndarray] = {}
    labels, inv = np.unique(groups.astype(str), return_inverse=True)
    for g, label in enumerate(labels):
        sel = inv == g
        counts = np.bincount(data.item_idx[sel], weights=w[sel], minlength=data.n_items)
        nz = np.flatnonzero(counts)
        out[str(label)] = nz[np.lexsort((nz, -counts[nz]))][:k]
    return out
