"""Exploration: the last slot of a personal list as a Thompson draw on item CTR."""

from __future__ import annotations

import threading

import numpy as np

from liveloop.core.config import env_switch
from liveloop.recommend.cache import Entry, item_json
from liveloop.recommend.explain import cached_reason
from liveloop.recommend.online import OnlineState
from liveloop.recommend.state import Snapshot

EXPLORE_DRAWS = 32  # random candidates for the Thompson draw


def explore_from_env(default: bool = True) -> bool:
    """``LIVELOOP_RECOMMEND_EXPLORE``: on or off (unset: ``default``)."""
    return env_switch("LIVELOOP_RECOMMEND_EXPLORE", default)


class Explorer:
    """Draws the exploration item of a cached list, from a random sample of eligible products."""

    def __init__(self, online: OnlineState, seed: int = 0):
        self.online = online
        self.rng = np.random.default_rng(seed)
        self._rand: tuple[np.ndarray, int] = (np.empty(0, np.int64), 0)
        self._rand_n = 0
        self._rand_lock = threading.Lock()

    def pick(self, snap: Snapshot, entry: Entry) -> tuple[bytes, str] | None:
        """Thompson sampling on item CTR over a random draw of eligible products (O(1) in the catalogue)."""
        cat = snap.catalogue
        if entry.pool is None:
            draws = self._random_indices(len(cat))
            draws = draws[snap.in_stock[draws]]
        elif len(entry.pool) > EXPLORE_DRAWS:
            draws = self.rng.choice(entry.pool, EXPLORE_DRAWS, replace=False)
        else:
            draws = entry.pool
        if entry.pool is not None:
            draws = draws[snap.in_stock[draws]]
        if entry.removed and len(draws):
            draws = draws[~cat.removed_mask(draws, entry.removed)]
        excluded, ids = entry.excluded, cat.id_list
        pool = [ids[i] for i in dict.fromkeys(draws.tolist()) if i not in excluded]
        if not pool:
            return None
        pid = self.online.thompson(pool, self.rng)
        i = cat.index[pid]
        return item_json(
            len(entry.frags), pid, cat.titles[i], cat.categories[i], 0.0, cached_reason("explore")
        ), pid

    def _random_indices(self, n: int) -> np.ndarray:
        """``EXPLORE_DRAWS`` uniform catalogue indices, cut from a buffer drawn in bulk."""
        with self._rand_lock:
            buf, pos = self._rand
            if len(buf) == 0 or pos + EXPLORE_DRAWS > len(buf) or self._rand_n != n:
                buf, pos, self._rand_n = self.rng.integers(0, n, 256 * EXPLORE_DRAWS), 0, n
            self._rand = (buf, pos + EXPLORE_DRAWS)
            return buf[pos : pos + EXPLORE_DRAWS]
