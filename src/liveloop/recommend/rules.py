"""Business rules on a candidate list: catalogue snapshot, exclusions, live rooms and diversity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

#: Days after a purchase before an item of the category may be recommended again (default 365:
#: durable goods); consumables come back sooner.
REPURCHASE_DAYS: dict[str, float] = {
    "default": 365.0,
    "food": 14.0,
    "groceries": 14.0,
    "beauty": 30.0,
    "cosmetics": 30.0,
    "美妆": 30.0,
    "食品": 14.0,
    "个护": 30.0,
}


@dataclass
class Catalogue:
    """An in-memory snapshot of ``products``: ids, titles, categories, prices and stock."""

    ids: np.ndarray
    titles: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    stock: np.ndarray  # -1 where unknown (treated as available)
    index: dict[str, int]

    @classmethod
    def from_warehouse(cls, wh: Any) -> Catalogue:
        rows = wh.sql(
            "SELECT product_id, coalesce(title, title_en, product_id), coalesce(category, ''), "
            "CAST(price AS DOUBLE), coalesce(stock, -1) FROM products ORDER BY product_id"
        )
        ids = np.array([r[0] for r in rows], dtype=object)
        return cls(
            ids=ids,
            titles=np.array([r[1] for r in rows], dtype=object),
            categories=np.array([r[2] for r in rows], dtype=object),
            prices=np.array([r[3] if r[3] is not None else np.nan for r in rows], dtype=float),
            stock=np.array([r[4] for r in rows], dtype=np.int64),
            index={str(p): i for i, p in enumerate(ids)},
        )

    def __len__(self) -> int:
        return len(self.ids)

    def in_stock(self) -> np.ndarray:
        return self.stock != 0


def repurchase_blocked(
    purchased: dict[str, float], catalogue: Catalogue, now: float, days: dict[str, float] | None = None
) -> set[str]:
    """Items bought recently enough that the category's repurchase window has not passed."""
    days = days or REPURCHASE_DAYS
    blocked = set()
    for item, ts in purchased.items():
        idx = catalogue.index.get(item)
        cat = str(catalogue.categories[idx]).lower() if idx is not None else ""
        window = days.get(cat, days.get("default", 365.0)) * 86_400
        if now - ts < window:
            blocked.add(item)
    return blocked


def category_cap(items: list[int], categories: np.ndarray, k: int, cap: int | None = None) -> list[int]:
    """Greedy diversity: at most ``cap`` items per category in the first ``k`` (default ceil(k/3), >= 2);
    overflow items fill remaining slots only if nothing else is left."""
    cap = cap or max(2, -(-k // 3))
    taken: dict[Any, int] = {}
    chosen, overflow = [], []
    for i in items:
        c = categories[i]
        if taken.get(c, 0) < cap or not c:
            chosen.append(i)
            taken[c] = taken.get(c, 0) + 1
        else:
            overflow.append(i)
        if len(chosen) == k:
            return chosen
    return (chosen + overflow)[:k]


def live_sessions(wh: Any, now: datetime) -> list[dict[str, Any]]:
    """Sessions not yet ended (live now or upcoming), with host and lineup."""
    rows = wh.sql(
        "SELECT session_id, host_id, title, start_ts, end_ts, lineup FROM live_sessions "
        "WHERE end_ts IS NULL OR end_ts > ? ORDER BY start_ts",
        [now],
    )
    return [
        {
            "session_id": r[0], "host_id": r[1], "title": r[2], "start_ts": r[3], "end_ts": r[4],
            "lineup": list(r[5] or []), "live_now": r[3] is not None and r[3] <= now,
        }
        for r in rows
    ]  # fmt: skip
