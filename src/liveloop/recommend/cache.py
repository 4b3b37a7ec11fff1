"""The response cache: served lists as pre-serialised JSON fragments, valid while their stamp matches."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from liveloop.recommend.online import OnlineState
from liveloop.recommend.state import Snapshot


@dataclass(slots=True)
class Entry:
    """One cached list: everything a hit needs except the exploration draw."""

    stamp: tuple[Any, ...]
    mode: str
    version: str | None
    extra: bytes  # trailing top-level JSON members (reason, fallback)
    pids: list[str]
    idx: np.ndarray  # catalogue indices of ``pids`` (a hit re-checks their stock)
    frags: list[bytes]  # one JSON object per item, rank included
    codes: list[str]
    explore: bool  # the last slot may be an exploration draw
    pool: np.ndarray | None  # where the draw comes from (a room's lineup); None: the whole catalogue
    excluded: frozenset[int]  # catalogue indices never drawn (listed, blocked, the context's product)
    removed: frozenset[str]  # the user's removed interest tags
    expires: float = float("inf")  # epoch seconds: a live room's end (its list then becomes "ended")


def item_json(rank: int, pid: str, title: Any, category: Any, score: float, why: dict[str, Any]) -> bytes:
    """One item of a list as its JSON fragment."""
    return orjson.dumps(
        {
            "rank": rank,
            "product_id": pid,
            "title": str(title),
            "category": str(category),
            "score": round(score, 5),
            "reason": why,
        }
    )


class ResponseCache:
    """Bounded LRU of ``Entry`` by (user, context, k), with hit/miss/eviction counters. The stamp covers
    the snapshot generation, the user's online-state version, removed tags and purchases."""

    def __init__(self, online: OnlineState, max_entries: int = 20_000):
        self.online = online
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, int], Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def key(
        self, snap: Snapshot, user_id: str, context: str, k: int, *, popular: bool = False
    ) -> tuple[tuple[str, str, int], tuple[Any, ...]]:
        """(key, stamp) of a request; opted-out users (and an experiment arm serving the popular list)
        share one list with no personal data in either."""
        if user_id in snap.opted_out:
            return ("", context, k), (snap.gen, "non_personalised")
        if popular:  # a key no user id can take
            return ("~popular", context, k), (snap.gen, "experiment_popular")
        stamp = (
            snap.gen,
            self.online.user_version(user_id),
            snap.removed.get(user_id),
            snap.purchases.get(user_id),
        )
        return (user_id, context, k), stamp

    def get(self, key: tuple[str, str, int], stamp: tuple[Any, ...], in_stock: np.ndarray) -> Entry | None:
        """The entry if its stamp matches, it has not expired and its items are all in stock (a hit)."""
        entry = self._data.get(key)
        if (
            entry is None
            or entry.stamp != stamp
            or (entry.expires < float("inf") and time.time() >= entry.expires)
            or not in_stock[entry.idx].all()  # an item sold out since: rank again
        ):
            return None
        self.hits += 1
        return entry

    def put(self, key: tuple[str, str, int], entry: Entry) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
                self.evictions += 1

    def drop_user(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == user_id]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._data),
            "max_entries": self.max_entries,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }

    def __len__(self) -> int:
        return len(self._data)
