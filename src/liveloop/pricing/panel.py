"""The sales panel the elasticity model reads, built from the warehouse.

A cell is one product on one local day in one context: the shelf (every sale outside a live session) or a
live session. Its exposure is the product's views there, its units the paid units sold there, its price
the price in effect: the session's slot price for a live cell, else the price-history row in effect at
local noon (a festival price over the list price), else the catalogue price. The group a cell belongs to
is its product (absorbed), its period the day and context kind, so a site-wide festival discount or a
live room's pull is never mistaken for a price response.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid
from liveloop.warehouse.prices import in_effect, on_shelf

SHELF = "shelf"
NO_CATEGORY = "(none)"


def sales_panel(
    wh: Warehouse,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "Asia/Shanghai",
    products: list[str] | None = None,
) -> pd.DataFrame:
    """Cells ``product, category, group, period, context, day, units, exposure, price`` of ``[start, end)``
    (default: the last 90 days of data)."""
    zone = ZoneInfo(tz)
    if end is None:
        newest = wh.sql("SELECT max(ts) FROM orders")[0][0]
        if newest is None:
            raise InsufficientData("there are no orders to learn price responses from", field="start")
        end = newest + timedelta(seconds=1)
    if start is None:
        start = end - timedelta(days=90)
    if end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")
    only = ""
    params: list[Any] = [zone.key, start, end]
    if products:
        only = "AND product_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(products))
    sales_params = [zone.key, start, end, *([list(products)] if products else [])]
    df = wh.df(
        f"""
        WITH views AS (
            SELECT product_id, CAST(timezone(?, ts) AS DATE) AS day,
                coalesce(session_id, '{SHELF}') AS context, count(*) AS views
            FROM events WHERE type = 'view' AND product_id IS NOT NULL AND ts >= ? AND ts < ? {only}
            GROUP BY ALL
        ),
        sold AS (
            SELECT i.product_id, CAST(timezone(?, o.ts) AS DATE) AS day,
                coalesce(o.session_id, '{SHELF}') AS context, sum(i.quantity) AS units
            FROM orders o JOIN order_items i USING (order_id)
            WHERE {paid("o")} AND o.ts >= ? AND o.ts < ? {only.replace("product_id", "i.product_id")}
            GROUP BY ALL
        )
        SELECT product_id, day, context, coalesce(v.views, 0) AS views, coalesce(s.units, 0) AS units
        FROM views v FULL JOIN sold s USING (product_id, day, context)
        """,
        params + sales_params,
    )
    if df.empty or df["units"].sum() == 0:
        raise InsufficientData(
            "there are no paid sales in this window to learn price responses from", field="start"
        )
    prices = _prices(wh, df, zone)
    df = df.merge(prices, on=["product_id", "day", "context"], how="left")
    catalogue = wh.df(
        "SELECT product_id, category, price::DOUBLE AS list_price, cost::DOUBLE AS cost FROM products"
    )
    df = df.merge(catalogue, on="product_id", how="left")
    df["price"] = df["price"].fillna(df["list_price"])
    df = df[df["price"] > 0].copy()
    if df.empty:
        raise InsufficientData("no product with sales has a price on record", field="price")
    has_views = bool((df["views"] > 0).any())
    df["exposure"] = df[["views", "units"]].max(axis=1).clip(lower=1) if has_views else 1.0
    df["kind"] = (df["context"] != SHELF).map({True: "live", False: SHELF})
    df["period"] = df["day"].astype(str) + "/" + df["kind"]
    df["group"] = "all"
    df["week"] = pd.to_datetime(df["day"]).dt.strftime("%G-%V")  # blocks of a product's own interval
    df["category"] = df["category"].fillna(NO_CATEGORY)
    return df.rename(columns={"product_id": "product"}).reset_index(drop=True)


def _prices(wh: Warehouse, cells: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """The price of each (product, day, context) cell from the price history."""
    keys = cells[["product_id", "day", "context"]].drop_duplicates()
    with wh.transaction() as con:
        con.register("_cells", keys)
        try:
            rows = con.execute(
                f"""
                WITH c AS (
                    SELECT product_id, day, context,
                        timezone(?, CAST(day AS TIMESTAMP) + INTERVAL 12 HOUR) AS noon FROM _cells
                ),
                slot AS (
                    SELECT c.product_id, c.day, c.context, min(p.price)::DOUBLE AS price FROM c
                    JOIN prices p ON p.product_id = c.product_id AND p.session_id = c.context
                    GROUP BY ALL
                ),
                shelf AS (
                    SELECT c.product_id, c.day, c.context,
                        arg_max(p.price, p.start_ts)::DOUBLE AS price FROM c
                    JOIN prices p ON p.product_id = c.product_id AND {on_shelf("p")}
                        AND {in_effect("p", "c.noon")}
                    GROUP BY ALL
                )
                SELECT c.product_id, c.day, c.context, coalesce(slot.price, shelf.price) AS price
                FROM c LEFT JOIN slot USING (product_id, day, context)
                    LEFT JOIN shelf USING (product_id, day, context)
                """,
                [zone.key],
            ).df()
        finally:
            con.unregister("_cells")
    return rows
