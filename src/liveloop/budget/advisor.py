"""Bid advice for platform ad tools (千川, 超级推荐, …): a suggested bid per click and daily budget per
audience, from what each audience's product views have been worth.

Per published segment (and everyone): the recent paid orders per product view (the conversion rate a
click to the product page can expect), the margin per order (GMV less the products' cost), hence the
value of a click; the suggested bid keeps ``target_roi`` of that value (bid = value / (1 + ROI)); the
daily budget buys ``paid_share`` more clicks than the audience's own daily product views at that bid.
Segments group users by behaviour; no price or coupon changes with them (DESIGN.md §8.2).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

ALL = "all"
#: The audience of users no profile build has placed in a segment.
UNSEGMENTED = "(none)"


def bid_advice(
    wh: Warehouse, *, days: int = 28, target_roi: float = 0.3, paid_share: float = 0.1
) -> dict[str, Any]:
    """Suggested bid per click and daily budget per segment (and for everyone), newest ``days`` of data."""
    if not 1 <= days <= 365:
        raise ValidationFailed("days must be between 1 and 365", field="days")
    if not 0 <= target_roi <= 10:
        raise ValidationFailed(
            "the target ROI is a share of the click's value, from 0 to 10", field="target_roi"
        )
    if not 0 < paid_share <= 5:
        raise ValidationFailed("the paid share of traffic must be above 0 and at most 5", field="paid_share")
    newest = wh.sql("SELECT max(ts) FROM events")[0][0]
    if newest is None:
        raise InsufficientData("there are no events to learn what a click is worth", field="days")
    start = newest - timedelta(days=days)
    rows = wh.df(
        f"""
        WITH members AS (
            SELECT u.user_id, coalesce(p.segment_id, '{UNSEGMENTED}') AS segment_id FROM users u
            LEFT JOIN profiles p USING (user_id)
        ),
        v AS (
            SELECT m.segment_id, count(*) AS views FROM events e JOIN members m USING (user_id)
            WHERE e.type = 'view' AND e.ts > ? AND e.ts <= ? GROUP BY 1
        ),
        o AS (
            SELECT m.segment_id, count(DISTINCT o.order_id) AS orders,
                sum(i.amount)::DOUBLE - sum(i.quantity * coalesce(pr.cost, 0))::DOUBLE AS margin
            FROM orders o JOIN members m USING (user_id) JOIN order_items i USING (order_id)
            LEFT JOIN products pr USING (product_id)
            WHERE {paid("o")} AND o.ts > ? AND o.ts <= ? GROUP BY 1
        ),
        n AS (SELECT segment_id, count(*) AS users FROM members GROUP BY 1)
        SELECT n.segment_id, n.users, coalesce(v.views, 0) AS views, coalesce(o.orders, 0) AS orders,
            coalesce(o.margin, 0) AS margin, s.name_zh, s.name_en
        FROM n LEFT JOIN v USING (segment_id) LEFT JOIN o USING (segment_id)
            LEFT JOIN segments s USING (segment_id)
        ORDER BY n.users DESC
        """,
        [start, newest, start, newest],
    )
    audiences = [_advice(r, days, target_roi, paid_share) for r in rows.to_dict(orient="records")]
    total = {
        "segment_id": ALL,
        "users": int(rows["users"].sum()),
        "views": int(rows["views"].sum()),
        "orders": int(rows["orders"].sum()),
        "margin": float(rows["margin"].sum()),
        "name_zh": "全部用户",
        "name_en": "everyone",
    }
    everyone = _advice(total, days, target_roi, paid_share)
    return {
        "window_days": days,
        "until": newest.isoformat(),
        "target_roi": target_roi,
        "paid_share": paid_share,
        "audiences": audiences,
        "everyone": everyone,
    }


def _advice(row: dict[str, Any], days: int, target_roi: float, paid_share: float) -> dict[str, Any]:
    views, orders, margin = float(row["views"]), float(row["orders"]), float(row["margin"])
    cvr = orders / views if views else 0.0
    per_order = margin / orders if orders else 0.0
    value = cvr * per_order
    bid = value / (1 + target_roi)
    daily_clicks = views / days * paid_share
    unsegmented = row["segment_id"] == UNSEGMENTED
    return {
        "segment_id": row["segment_id"],
        "name_zh": "未分群用户" if unsegmented else (row.get("name_zh") or row["segment_id"]),
        "name_en": "not in a segment" if unsegmented else (row.get("name_en") or row["segment_id"]),
        "users": int(row["users"]),
        "views_per_day": round(views / days, 1),
        "conversion_rate": round(cvr, 5),
        "margin_per_order": round(per_order, 2),
        "value_per_click": round(value, 4),
        "suggested_bid": round(bid, 2),
        "daily_budget": round(bid * daily_clicks, 2),
        "expected_daily_orders": round(cvr * daily_clicks, 2),
        "enough_data": orders >= 20,
    }
