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
    """An in-memory snapshot of ``products``: ids, titles, categories, brands, prices and stock."""

    ids: np.ndarray
    titles: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    stock: np.ndarray  # -1 where unknown (treated as available)
    index: dict[str, int]
    brands: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Integer codes of categories and brands: removed interest tags become vectorised masks.
        self._cat_names, self._cat_codes = np.unique(self.categories.astype(str), return_inverse=True)
        brands = self.brands if self.brands is not None else np.full(len(self.ids), "", dtype=object)
        self._brand_names, self._brand_codes = np.unique(brands.astype(str), return_inverse=True)
        self.id_list: list[str] = [str(i) for i in self.ids.tolist()]  # fast scalar access on hot paths

    @classmethod
    def from_warehouse(cls, wh: Any) -> Catalogue:
        """One columnar read (no Python loop per product: 100k products load in well under a second)."""
        t = wh.arrow(
            "SELECT product_id, coalesce(title, title_en, product_id) AS title, "
            "coalesce(category, '') AS category, coalesce(brand, '') AS brand, "
            "CAST(price AS DOUBLE) AS price, coalesce(stock, -1) AS stock FROM products ORDER BY product_id"
        )

        def col(name: str) -> np.ndarray:
            return np.asarray(t.column(name).to_numpy(zero_copy_only=False), dtype=object)

        ids = col("product_id")
        return cls(
            ids=ids,
            titles=col("title"),
            categories=col("category"),
            prices=np.asarray(t.column("price").to_numpy(zero_copy_only=False), dtype=float),
            stock=np.asarray(t.column("stock").to_numpy(zero_copy_only=False), dtype=np.int64),
            index=dict(zip(ids.tolist(), range(len(ids)), strict=True)),
            brands=col("brand"),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def in_stock(self) -> np.ndarray:
        return self.stock != 0

    def removed_mask(self, idx: np.ndarray, removed: frozenset[str]) -> np.ndarray:
        """Which of the products ``idx`` fall under a removed ``category:X`` / ``brand:X`` interest tag."""
        idx = np.asarray(idx, np.int64)
        if not removed or len(idx) == 0:
            return np.zeros(len(idx), bool)
        out = np.zeros(len(idx), bool)
        for prefix, names, codes in (
            ("category:", self._cat_names, self._cat_codes),
            ("brand:", self._brand_names, self._brand_codes),
        ):
            wanted = [t[len(prefix) :] for t in removed if t.startswith(prefix)]
            hit = np.flatnonzero(np.isin(names, wanted))
            if len(hit):
                out |= np.isin(codes[idx], hit)
        return out


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
    """Sessions not yet ended (live now or upcoming), with host and lineup; one with no start time is
    not scheduled yet and is left out."""
    rows = wh.sql(
        "SELECT session_id, host_id, title, start_ts, end_ts, lineup FROM live_sessions "
        "WHERE start_ts IS NOT NULL AND (end_ts IS NULL OR end_ts > ?) ORDER BY start_ts",
        [now],
    )
    return [
        {
            "session_id": r[0], "host_id": r[1], "title": r[2], "start_ts": r[3], "end_ts": r[4],
            "lineup": list(r[5] or []), "live_now": r[3] is not None and r[3] <= now,
        }
        for r in rows
    ]  # fmt: skip
