"""The price rules of DESIGN.md §8.2–8.3, checked before any price is written.

- One price per product and time slot for everyone: a price row has no user, segment or audience, and a
  new shelf price may not overlap another shelf price of the same product starting at the same moment.
- A reference ("was") price may not exceed the lowest actual price of the previous 7 days.
- No raise just before a markdown: a raise is refused when a lower price is already scheduled within the
  next 7 days, and a markdown's was-price cannot lean on a raise of the previous 7 days (the 7-day low
  already holds the price before the raise).
- A price is above zero and, unless it is a declared clearance, not below cost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.prices import in_effect, on_shelf

REFERENCE_DAYS = 7


def lowest_recent_price(wh: Warehouse, product_id: str, at: datetime) -> float | None:
    """The lowest price the product actually sold at (any shelf, festival, markdown or live-slot price in
    effect) during the ``REFERENCE_DAYS`` before ``at``."""
    row = wh.sql(
        "SELECT min(price)::DOUBLE FROM prices WHERE product_id = ? AND start_ts < ? "
        "AND (end_ts IS NULL OR end_ts > ?)",
        [product_id, at, at - timedelta(days=REFERENCE_DAYS)],
    )
    return None if row[0][0] is None else float(row[0][0])


def shelf_price_at(wh: Warehouse, product_id: str, at: datetime) -> float | None:
    """The shelf price in effect at ``at`` (the latest-starting non-slot row), or None without history."""
    row = wh.sql(
        "SELECT arg_max(p.price, p.start_ts)::DOUBLE FROM prices p WHERE p.product_id = ? "
        f"AND {on_shelf('p')} AND {in_effect('p', '?')}",
        [product_id, at, at],
    )
    return None if row[0][0] is None else float(row[0][0])


def check_price(
    wh: Warehouse,
    product_id: str,
    price: float,
    start: datetime,
    *,
    was_price: float | None = None,
    cost: float | None = None,
    clearance: bool = False,
) -> None:
    """Raise ValidationFailed (naming the field) when writing ``price`` from ``start`` breaks a rule."""
    if not price > 0:
        raise ValidationFailed("a price must be above zero", field="price")
    if cost is not None and price < cost and not clearance:
        raise ValidationFailed(
            f"{price:.2f} is below the cost {cost:.2f}; mark it a clearance to sell below cost", field="price"
        )
    current = shelf_price_at(wh, product_id, start)
    if was_price is not None:
        if was_price <= price:
            raise ValidationFailed("a was-price must be above the new price", field="was_price")
        low = lowest_recent_price(wh, product_id, start)
        low = current if low is None else low
        if low is None or was_price > low + 1e-9:
            shown = "no price on record" if low is None else f"{low:.2f}"
            raise ValidationFailed(
                f"the was-price {was_price:.2f} is above the lowest price of the previous "
                f"{REFERENCE_DAYS} days ({shown})",
                field="was_price",
            )
    if current is not None and price > current:
        planned = wh.sql(
            "SELECT min(price)::DOUBLE FROM prices WHERE product_id = ? AND session_id IS NULL "
            "AND start_ts > ? AND start_ts <= ? AND price < ?",
            [product_id, start, start + timedelta(days=REFERENCE_DAYS), price],
        )[0][0]
        if planned is not None:
            raise ValidationFailed(
                f"a lower price ({float(planned):.2f}) is scheduled within {REFERENCE_DAYS} days: "
                "no raise just before a markdown",
                field="price",
            )
    clash = wh.sql(
        "SELECT count(*) FROM prices WHERE product_id = ? AND session_id IS NULL AND start_ts = ?",
        [product_id, start],
    )[0][0]
    if clash:
        raise ValidationFailed(
            "the product already has a price starting at that moment: one price per product and time slot",
            field="start",
        )
