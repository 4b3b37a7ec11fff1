"""Penetration of a category in each segment (品类渗透率): the share of a segment's users who bought the
category in a window — where a category has room to grow and which audience to give it.

Users are counted by their segment in ``profiles`` (users without a profile are ``unsegmented``); buyers
are users with a paid order line of a product of the category in ``[start, end)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

UNSEGMENTED = "unsegmented"
_PAID = paid()


def penetration(
    wh: Warehouse, category: str, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Per segment (largest first, then every user): users, buyers of ``category``, their share."""
    if not category:
        raise ValidationFailed("name the category", field="category")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")
    known = [
        r[0] for r in wh.sql("SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1")
    ]
    if category not in known:
        raise ValidationFailed(
            f"unknown category {category!r}; known: {', '.join(known) or 'none'}", field="category"
        )
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    rows = wh.sql(
        f"""
        WITH buyers AS (
            SELECT DISTINCT o.user_id FROM orders o JOIN order_items i USING (order_id)
            JOIN products p USING (product_id)
            WHERE o.{_PAID} AND p.category = ? AND o.ts >= ? AND o.ts < ?
        ),
        seg AS (
            SELECT u.user_id, coalesce(f.segment_id, ?) AS segment_id
            FROM users u LEFT JOIN profiles f USING (user_id)
        )
        SELECT seg.segment_id, any_value(s.name_en), any_value(s.name_zh), count(*) AS users,
            count(b.user_id) AS buyers
        FROM seg LEFT JOIN buyers b USING (user_id) LEFT JOIN segments s USING (segment_id)
        GROUP BY 1 ORDER BY users DESC, 1
        """,
        [category, lo, hi, UNSEGMENTED],
    )
    out = [
        {
            "segment_id": sid,
            "name_en": en or sid,
            "name_zh": zh or sid,
            "users": int(users),
            "buyers": int(buyers),
            "penetration": round(buyers / users, 6) if users else None,
        }
        for sid, en, zh, users, buyers in rows
    ]
    total_users = sum(r["users"] for r in out)
    total_buyers = sum(r["buyers"] for r in out)
    return {
        "category": category,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "segments": out,
        "overall": {
            "users": total_users,
            "buyers": total_buyers,
            "penetration": round(total_buyers / total_users, 6) if total_users else None,
        },
    }
