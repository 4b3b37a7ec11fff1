"""The grounded facts content is written from: a product's own record, its recent prices and its stock.

Everything a generated line states comes from here (or from mined reviews, :mod:`.selling`): the
title, brand, category, list price, the lowest actual price of the previous 7 days (the reference a
"was" price may not exceed, DESIGN.md §8.3), the stock, and the functional claims with evidence on file
(``attributes.claims``, e.g. ``["防晒 SPF30 检测报告"]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from liveloop.content.claims import ClaimFacts
from liveloop.core.clock import utcnow
from liveloop.core.errors import NotFound
from liveloop.warehouse import Warehouse

REFERENCE_DAYS = 7
#: Attribute keys shown as facts, with their labels (zh, en); others are shown under their own key.
ATTRIBUTE_LABELS: dict[str, tuple[str, str]] = {
    "pack": ("件数", "pack"),
    "style": ("款式", "style"),
    "size": ("规格", "size"),
    "material": ("材质", "material"),
    "origin": ("产地", "origin"),
    "shade": ("色号", "shade"),
}
#: Category slugs in both languages (the simulator's and common ones); another is shown as it is.
CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "beauty": ("美妆", "beauty"),
    "apparel": ("服饰", "apparel"),
    "food": ("食品", "food"),
    "electronics": ("数码", "electronics"),
    "home": ("家居", "home"),
    "baby": ("母婴", "baby"),
    "jewelry": ("珠宝", "jewelry"),
    "health": ("保健", "health"),
}


@dataclass(frozen=True)
class ProductFacts:
    """What is known about one product, as of ``as_of``."""

    product_id: str
    title: str
    title_en: str | None
    category: str | None
    brand: str | None
    price: float | None
    stock: int | None
    attributes: dict[str, Any] = field(default_factory=dict)
    lowest_7d: float | None = None
    as_of: datetime | None = None

    @property
    def claims(self) -> tuple[str, ...]:
        raw = self.attributes.get("claims") or []
        return tuple(str(c) for c in raw) if isinstance(raw, list) else (str(raw),)

    def name(self, lang: str = "zh") -> str:
        return (
            (self.title_en or self.title)
            if lang == "en"
            else (self.title or self.title_en or self.product_id)
        )

    def category_name(self, lang: str = "zh") -> str:
        names = CATEGORY_NAMES.get(self.category or "")
        return names[lang == "en"] if names else (self.category or "")

    def claim_facts(self, price: float | None = None) -> ClaimFacts:
        """The facts the compliance gate settles claims against (``price``: the price the copy quotes)."""
        return ClaimFacts(
            price=price if price is not None else self.price,
            lowest_7d=self.lowest_7d,
            stock=self.stock,
            claims=self.claims,
        )

    def lines(self, lang: str = "zh") -> list[str]:
        """The facts as short lines: what a language model is given and what its output is checked against."""
        en = lang == "en"
        out = [f"{'product' if en else '商品'}: {self.name(lang)}"]
        if self.brand:
            out.append(f"{'brand' if en else '品牌'}: {self.brand}")
        if self.category:
            out.append(f"{'category' if en else '类目'}: {self.category_name(lang)}")
        if self.price is not None:
            out.append(f"{'price' if en else '价格'}: {self.price:g}")
        if self.stock is not None:
            out.append(f"{'stock' if en else '库存'}: {self.stock}")
        for key, value in self.attributes.items():
            if key == "claims" or value in (None, "", []):
                continue
            label = ATTRIBUTE_LABELS.get(key, (key, key))[en]
            out.append(f"{label}: {value}")
        for claim in self.claims:
            out.append(f"{'claim with evidence' if en else '有依据的功效'}: {claim}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "title": self.title,
            "title_en": self.title_en,
            "category": self.category,
            "brand": self.brand,
            "price": self.price,
            "stock": self.stock,
            "attributes": self.attributes,
            "lowest_price_7d": self.lowest_7d,
            "claims": list(self.claims),
        }


def _attributes(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def product_facts(
    wh: Warehouse, product_ids: Sequence[str], *, now: datetime | None = None
) -> dict[str, ProductFacts]:
    """Facts of the known products among ``product_ids`` (one query; unknown ids are left out)."""
    if not product_ids:
        return {}
    now = now or utcnow()
    rows = wh.sql(
        "WITH paid AS (SELECT i.product_id, min(i.unit_price) AS lowest FROM order_items i "
        "JOIN orders o USING (order_id) WHERE o.ts >= ? AND o.ts <= ? AND o.status <> 'cancelled' "
        "AND i.quantity > 0 AND i.product_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1) "
        "SELECT p.product_id, p.title, p.title_en, p.category, p.brand, p.price::DOUBLE, p.stock, "
        "p.attributes, paid.lowest::DOUBLE FROM products p LEFT JOIN paid USING (product_id) "
        "WHERE p.product_id IN (SELECT unnest(?::VARCHAR[]))",
        [now - timedelta(days=REFERENCE_DAYS), now, list(product_ids), list(product_ids)],
    )
    out = {}
    for pid, title, title_en, cat, brand, price, stock, attrs, paid in rows:
        lows = [x for x in (price, paid) if x is not None]
        out[str(pid)] = ProductFacts(
            product_id=str(pid),
            title=str(title or pid),
            title_en=title_en,
            category=cat,
            brand=brand,
            price=price,
            stock=None if stock is None else int(stock),
            attributes=_attributes(attrs),
            lowest_7d=min(lows) if lows else None,
            as_of=now,
        )
    return out


def one_product(wh: Warehouse, product_id: str, *, now: datetime | None = None) -> ProductFacts:
    """One product's facts; an unknown id is a clear error naming ``product_id``."""
    found = product_facts(wh, [product_id], now=now).get(product_id)
    if found is None:
        raise NotFound(f"product {product_id!r} is unknown", field="product_id")
    return found
