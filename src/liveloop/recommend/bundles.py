"""Bundles: frequent itemsets (mlxtend FP-growth) and association rules -> "frequently bought together"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.datasets.files import data_file


def basket_matrix(baskets: Sequence[Iterable[str]]) -> pd.DataFrame:
    """One-hot (baskets x items) boolean frame, items as columns (sorted)."""
    clean = [sorted({str(i) for i in b if str(i)}) for b in baskets]
    items = sorted({i for b in clean for i in b})
    if not clean or not items:
        raise InsufficientData("no baskets with items to mine")
    col = {item: j for j, item in enumerate(items)}
    m = np.zeros((len(clean), len(items)), dtype=bool)
    for r, b in enumerate(clean):
        m[r, [col[i] for i in b]] = True
    return pd.DataFrame(m, columns=items)


def mine_rules(
    baskets: Sequence[Iterable[str]],
    *,
    min_support: float = 0.001,
    min_confidence: float = 0.8,
    max_len: int | None = None,
    single_consequent: bool = True,
) -> pd.DataFrame:
    """Association rules (antecedents -> consequents) with support, confidence and lift.

    ``single_consequent`` keeps rules with one item on the right, as arules/Borgelt's apriori does
    (and as "often bought with X" needs).
    """
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    if not 0 < min_support <= 1:
        raise ValidationFailed("min_support must be in (0, 1]", field="min_support")
    if not 0 < min_confidence <= 1:
        raise ValidationFailed("min_confidence must be in (0, 1]", field="min_confidence")
    onehot = basket_matrix(baskets)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
    if itemsets.empty:
        return pd.DataFrame(columns=["antecedents", "consequents", "support", "confidence", "lift"])
    rules = association_rules(
        itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=min_confidence
    )
    rules = rules[["antecedents", "consequents", "support", "confidence", "lift"]].copy()
    if single_consequent:
        rules = rules[rules["consequents"].map(len) == 1]
    return rules.sort_values(["lift", "confidence", "support"], ascending=False, kind="stable").reset_index(
        drop=True
    )


def groceries_baskets() -> list[list[str]]:
    """The arules Groceries baskets (9,835 over 169 items), read from LIVELOOP_DATA_HOME.

    Only the line break is stripped: two arules labels end in a space ("cream cheese ", "roll products "),
    and stripping each line would turn them into a second item whenever they end a basket (171 items,
    412 rules instead of the published 410).
    """
    with open(data_file("groceries", "groceries.csv"), encoding="ascii", newline="") as fh:
        return [line.rstrip("\r\n").split(",") for line in fh if line.strip()]


def warehouse_baskets(wh: Any) -> list[list[str]]:
    """Order baskets: products in the same order (order_items), else purchases in the same event session."""
    rows = wh.sql("SELECT order_id, list(DISTINCT product_id) FROM order_items GROUP BY order_id")
    if not rows:
        rows = wh.sql(
            "SELECT user_id || coalesce(session_id, CAST(CAST(ts AS DATE) AS VARCHAR)), "
            "list(DISTINCT product_id) FROM events "
            "WHERE type = 'purchase' AND product_id IS NOT NULL GROUP BY 1"
        )
    return [list(r[1]) for r in rows]


class BundleIndex:
    """Rules indexed by antecedent item, for "often bought with" lookups per product."""

    def __init__(self, rules: pd.DataFrame):
        self.rules = rules
        self._by_item: dict[str, list[dict[str, Any]]] = {}
        for row in rules.to_dict("records"):
            entry = {
                "with": sorted(row["antecedents"]),
                "items": sorted(row["consequents"]),
                "support": round(float(row["support"]), 6),
                "confidence": round(float(row["confidence"]), 4),
                "lift": round(float(row["lift"]), 3),
            }
            for item in row["antecedents"]:
                self._by_item.setdefault(str(item), []).append(entry)

    def for_item(self, item: str, n: int = 10) -> list[dict[str, Any]]:
        """Best bundles containing ``item`` on the left, by lift then confidence."""
        entries = self._by_item.get(str(item), [])
        return sorted(entries, key=lambda e: (-e["lift"], -e["confidence"], e["items"]))[:n]

    def __len__(self) -> int:
        return len(self.rules)


def product_bundles(
    wh: Any, product_id: str, *, n: int = 10, min_support: float = 0.001, min_confidence: float = 0.2
) -> dict[str, Any]:
    """``GET /v1/products/{id}/bundles``: rules from the warehouse's order baskets for one product."""
    if not wh.sql("SELECT 1 FROM products WHERE product_id = ?", [product_id]):
        raise NotFound(f"unknown product {product_id!r}", field="product_id")
    baskets = [b for b in warehouse_baskets(wh) if len(b) > 1]
    if not baskets:
        return {"product_id": product_id, "bundles": [], "reason": "no multi-item orders yet"}
    rules = mine_rules(baskets, min_support=min_support, min_confidence=min_confidence, max_len=3)
    found = BundleIndex(rules).for_item(product_id, n)
    out = {"product_id": product_id, "baskets": len(baskets), "bundles": found}
    if not found:
        out["reason"] = "no rule reaches the support and confidence thresholds for this product"
    return out
