"""The product catalogue with its sales: a paged list (by id, name or category), one product's page, and
the search behind the dashboard's "find anything" box (users, products, live sessions).

Sales are paid order lines; a warehouse without orders counts purchase events instead (as the Overview
does). A phone number is found through the users' blind index: the phone itself is stored only encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liveloop.core.crypto import Cipher, phone_forms
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.paging import page
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

MAX_LIMIT = 200
MAX_SEARCH = 64
_PAID = paid()


def paid_lines(wh: Warehouse) -> str:
    """A SQL subquery of sold lines (product_id, user_id, session_id, ts, quantity, amount): paid order
    lines, or purchase events when there are no orders."""
    if wh.sql("SELECT count(*) FROM order_items")[0][0] > 0:
        return (
            "(SELECT i.product_id, o.user_id, o.session_id, o.ts, i.quantity, i.amount "
            f"FROM order_items i JOIN orders o USING (order_id) WHERE o.{_PAID})"
        )
    return (
        "(SELECT product_id, user_id, session_id, ts, coalesce(quantity, 1) AS quantity, amount FROM events "
        "WHERE type = 'purchase' AND product_id IS NOT NULL)"
    )


@dataclass(frozen=True)
class ProductQuery:
    """Which products: a part of the id or name (either language), a category; the page."""

    search: str | None = None
    category: str | None = None
    limit: int = 50
    offset: int = 0

    def check(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if self.offset < 0:
            raise ValidationFailed("offset must be 0 or more", field="offset")
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise ValidationFailed(f"a search is at most {MAX_SEARCH} characters", field="q")


_PRODUCT_COLUMNS = ("product_id", "title", "title_en", "category", "brand", "price", "currency", "stock")


def list_products(wh: Warehouse, query: ProductQuery) -> dict[str, Any]:
    """One page of products, best sellers (GMV) first, each with units, orders and GMV sold."""
    query.check()
    where, params = ["TRUE"], []
    search = (query.search or "").strip().lower()
    if search:
        where.append("(contains(lower(p.product_id), ?) OR contains(lower(coalesce(p.title, '')), ?) "
                     "OR contains(lower(coalesce(p.title_en, '')), ?))")  # fmt: skip
        params += [search] * 3
    if query.category:
        where.append("p.category = ?")
        params.append(query.category)
    condition = " AND ".join(where)
    total = int(wh.sql(f"SELECT count(*) FROM products p WHERE {condition}", params)[0][0])
    cols = ", ".join(f"p.{c}" for c in _PRODUCT_COLUMNS)
    rows = wh.sql(
        f"SELECT {cols}, coalesce(s.units, 0), coalesce(s.lines, 0), coalesce(s.gmv, 0) FROM products p "
        f"LEFT JOIN (SELECT product_id, sum(quantity) AS units, count(*) AS lines, sum(amount) AS gmv "
        f"FROM {paid_lines(wh)} GROUP BY product_id) s USING (product_id) WHERE {condition} "
        "ORDER BY coalesce(s.gmv, 0) DESC, p.product_id LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    )
    return page("items", [_product(r) for r in rows], total, query.offset, query.limit)


def _product(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip((*_PRODUCT_COLUMNS, "units", "orders", "gmv"), row, strict=True))
    for key in ("price", "gmv"):
        item[key] = float(item[key]) if item[key] is not None else None
    item["units"], item["orders"] = int(item["units"]), int(item["orders"])
    return item


def product_detail(wh: Warehouse, product_id: str, buyers: int = 20) -> dict[str, Any]:
    """One product: its catalogue row and sales, the live sessions that showed it, its latest buyers."""
    lines = paid_lines(wh)
    cols = ", ".join(f"p.{c}" for c in _PRODUCT_COLUMNS)
    found = wh.sql(
        f"SELECT {cols}, coalesce(sum(s.quantity), 0), count(s.product_id), coalesce(sum(s.amount), 0) "
        f"FROM products p LEFT JOIN {lines} s USING (product_id) WHERE p.product_id = ? GROUP BY ALL",
        [product_id],
    )
    if not found:
        raise NotFound(f"product {product_id!r} is unknown", field="product_id")
    sessions = wh.sql(
        "SELECT session_id, title, start_ts FROM live_sessions WHERE list_contains(lineup, ?) "
        "ORDER BY start_ts DESC NULLS LAST, session_id LIMIT 20",
        [product_id],
    )
    latest = wh.sql(
        f"SELECT user_id, max(ts) AS last, sum(quantity) FROM {lines} WHERE product_id = ? "
        "GROUP BY user_id ORDER BY last DESC, user_id LIMIT ?",
        [product_id, buyers],
    )
    return _product(found[0]) | {
        "sessions": [{"session_id": s, "title": t, "start_ts": ts} for s, t, ts in sessions],
        "buyers": [{"user_id": u, "last_ts": ts, "units": int(n)} for u, ts, n in latest],
    }


def search(wh: Warehouse, text: str, cipher: Cipher | None = None, limit: int = 10) -> dict[str, Any]:
    """Users (a part of the id, or a phone number through the blind index), products (id or name) and
    live sessions (id or title) matching ``text``, at most ``limit`` of each, exact ids first."""
    q = (text or "").strip()
    if not q:
        raise ValidationFailed("type something to search for", field="q")
    if len(q) > MAX_SEARCH:
        raise ValidationFailed(f"a search is at most {MAX_SEARCH} characters", field="q")
    if not 1 <= limit <= 50:
        raise ValidationFailed("limit must be between 1 and 50", field="limit")
    low = q.lower()
    phones = [i for f in phone_forms(q) for i in cipher.blind_indexes(f)] if cipher is not None else []
    phone_match = f"phone_index IN ({', '.join('?' for _ in phones)})" if phones else "FALSE"
    users = wh.sql(
        f"SELECT user_id, {phone_match} AS by_phone FROM users "
        f"WHERE contains(lower(user_id), ?) OR {phone_match} "
        "ORDER BY lower(user_id) <> ?, by_phone DESC, length(user_id), user_id LIMIT ?",
        [*phones, low, *phones, low, limit],
    )
    products = wh.sql(
        "SELECT product_id, title, title_en, category, price FROM products "
        "WHERE contains(lower(product_id), $q) OR contains(lower(coalesce(title, '')), $q) "
        "OR contains(lower(coalesce(title_en, '')), $q) "
        "ORDER BY lower(product_id) <> $q, length(product_id), product_id LIMIT $n",
        {"q": low, "n": limit},
    )
    sessions = wh.sql(
        "SELECT session_id, title, start_ts FROM live_sessions "
        "WHERE contains(lower(session_id), $q) OR contains(lower(coalesce(title, '')), $q) "
        "ORDER BY lower(session_id) <> $q, start_ts DESC NULLS LAST, session_id LIMIT $n",
        {"q": low, "n": limit},
    )
    return {
        "query": q,
        "users": [{"user_id": u, "matched": "phone" if by_phone else "id"} for u, by_phone in users],
        "products": [
            {"product_id": p, "title": t, "title_en": te, "category": c, "price": float(pr) if pr else None}
            for p, t, te, c, pr in products
        ],
        "live_sessions": [{"session_id": s, "title": t, "start_ts": ts} for s, t, ts in sessions],
    }


#: Where the display name of a grain's key lives: (table, key column, Chinese name, English name).
_NAMES = {
    "host": ("hosts", "host_id", "name", "name"),
    "session": ("live_sessions", "session_id", "title", "title"),
    "product": ("products", "product_id", "title", "coalesce(title_en, title)"),
    "segment": ("segments", "segment_id", "name_zh", "name_en"),
}


def display_names(wh: Warehouse, grain: str, keys: list[str], lang: str = "zh") -> dict[str, str]:
    """The names people know the keys of a grain by (a host's name, a session's title …); keys of other
    grains, or without a name, are left out."""
    if grain not in _NAMES or not keys:
        return {}
    table, key, zh, en = _NAMES[grain]
    rows = wh.sql(
        f"SELECT {key}, {zh if lang == 'zh' else en} FROM {table} WHERE list_contains(?, {key})", [keys]
    )
    return {str(k): str(n) for k, n in rows if n}
