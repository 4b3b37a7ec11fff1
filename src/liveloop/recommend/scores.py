"""Candidate scores from several sources, summed per product, each explained by its most specific source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# Reason priorities: the most specific source that named an item explains it.
PRIORITY = {
    "bought_together": 7, "similar_item": 6, "because_viewed": 5, "new_similar": 4, "in_live_now": 3,
    "similar_users": 2, "segment_popular": 2,
}  # fmt: skip


class Scores:
    """Scores from several sources over catalogue indices: summed per product; the reason is the one of
    the highest-priority source that named it. Personal sources are dropped for removed interest tags."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, int, bool]] = []
        self.reasons: list[dict[str, Any]] = []

    def add(
        self, idx: np.ndarray, val: np.ndarray, why: dict[str, Any] | None = None, *, personal: bool = True
    ) -> None:
        if len(idx) == 0:
            return
        rid = -1
        if why is not None:
            rid = len(self.reasons)
            self.reasons.append(why)
        self.parts.append((np.asarray(idx, np.int64), np.asarray(val, np.float64), rid, personal))

    def resolve(
        self, dropped: Callable[[np.ndarray], np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unique catalogue indices, total scores, reason id or -1); ``dropped(idx)``: removed-tag mask."""
        if not self.parts:
            return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
        sizes = [len(p[0]) for p in self.parts]
        idx = np.concatenate([p[0] for p in self.parts])
        val = np.concatenate([p[1] for p in self.parts])
        rid = np.repeat(np.array([p[2] for p in self.parts], np.int64), sizes)
        personal = np.repeat(np.array([p[3] for p in self.parts], bool), sizes)
        pri = np.array([PRIORITY.get(r["code"], 1) for r in self.reasons] + [0])[rid]
        if dropped is not None:
            keep = ~(personal & dropped(idx))
            idx, val, rid, pri = idx[keep], val[keep], rid[keep], pri[keep]
        uniq, inv = np.unique(idx, return_inverse=True)
        total = np.bincount(inv, weights=val, minlength=len(uniq))
        best = np.full(len(uniq), -1, np.int64)
        named = rid >= 0
        if named.any():
            order = np.lexsort((np.flatnonzero(named), pri[named], inv[named]))
            g, r = inv[named][order], rid[named][order]
            last = np.append(g[1:] != g[:-1], True)
            best[g[last]] = r[last]
        return uniq, total, best
