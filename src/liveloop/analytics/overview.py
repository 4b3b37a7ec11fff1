"""The dashboard overview: KPI tiles (the last days against the days before, with their daily trend and
target), GMV and orders per day, top products; and the Data page's status (row counts, quarantine, events
per hour).

Windows end at the newest data rather than at "now", so a historical or simulated warehouse still
shows its activity. Times are bucketed in the configured display timezone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from liveloop.analytics import rollups, targets
from liveloop.analytics.catalog import paid_lines
from liveloop.analytics.kpis import comparison, compute
from liveloop.warehouse import Warehouse, warehouse_status
from liveloop.warehouse.orders import paid

#: Tables whose row counts the overview shows, in this order.
STATUS_TABLES = (
    "users",
    "products",
    "hosts",
    "live_sessions",
    "events",
    "orders",
    "order_items",
    "comments",
    "messages",
    "quarantine",
)
_PAID = paid()


@dataclass
class Overview:
    row_counts: dict[str, int]
    last_event: datetime | None
    quarantine_open: int
    quarantine_by_reason: dict[str, int]
    events_per_hour: list[tuple[datetime, int]] = field(default_factory=list)
    gmv_per_day: list[tuple[Any, Decimal, int]] = field(default_factory=list)
    gmv_source: str = "orders"
    top_products: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row_counts": self.row_counts,
            "last_event": self.last_event.isoformat() if self.last_event else None,
            "quarantine_open": self.quarantine_open,
            "quarantine_by_reason": self.quarantine_by_reason,
            "events_per_hour": [{"hour": h.isoformat(), "events": n} for h, n in self.events_per_hour],
            "gmv_per_day": [{"day": str(d), "gmv": str(g), "orders": n} for d, g, n in self.gmv_per_day],
            "gmv_source": self.gmv_source,
            "top_products": [{**p, "gmv": str(p["gmv"])} for p in self.top_products],
        }


def events_per_hour(wh: Warehouse, tz: str, hours: int = 72) -> list[tuple[datetime, int]]:
    """Event counts per local hour over the last ``hours`` hours of data."""
    rows = wh.sql(
        "SELECT date_trunc('hour', timezone(?, ts)) AS h, count(*) FROM events "
        "WHERE ts > (SELECT max(ts) FROM events) - to_hours(CAST(? AS INTEGER)) GROUP BY h ORDER BY h",
        [tz, hours],
    )
    return [(h, int(n)) for h, n in rows]


def gmv_per_day(wh: Warehouse, tz: str, days: int = 30) -> tuple[list[tuple[Any, Decimal, int]], str]:
    """GMV and order count per local day from paid orders, else from purchase events (source named)."""
    has_orders = wh.sql("SELECT count(*) FROM orders")[0][0] > 0
    if has_orders:
        query = (
            f"SELECT CAST(timezone(?, ts) AS DATE) AS d, sum(amount), count(*) FROM orders WHERE {_PAID} "
            f"AND ts > (SELECT max(ts) FROM orders) - to_days(CAST(? AS INTEGER)) GROUP BY d ORDER BY d"
        )
    else:
        query = (
            "SELECT CAST(timezone(?, ts) AS DATE) AS d, coalesce(sum(amount), 0), count(*) FROM events "
            "WHERE type = 'purchase' AND ts > (SELECT max(ts) FROM events WHERE type = 'purchase') "
            "- to_days(CAST(? AS INTEGER)) GROUP BY d ORDER BY d"
        )
    rows = wh.sql(query, [tz, days])
    return [(d, Decimal(g or 0), int(n)) for d, g, n in rows], "orders" if has_orders else "purchase events"


def top_products(wh: Warehouse, n: int = 10, days: int = 30) -> list[dict[str, Any]]:
    """The products with the most GMV in the last ``days`` days of orders (or purchase events)."""
    rows = wh.sql(
        f"WITH s AS {paid_lines(wh)} "
        "SELECT s.product_id, any_value(p.title), any_value(p.title_en), any_value(p.category), "
        "coalesce(sum(s.amount), 0) AS gmv, sum(s.quantity) FROM s LEFT JOIN products p USING (product_id) "
        "WHERE s.ts > (SELECT max(ts) FROM s) - to_days(CAST(? AS INTEGER)) "
        "GROUP BY s.product_id ORDER BY gmv DESC, s.product_id LIMIT ?",
        [days, n],
    )
    return [
        {
            "product_id": pid,
            "title": title or pid,
            "title_en": title_en or title or pid,
            "category": cat,
            "gmv": Decimal(gmv),
            "units": int(units or 0),
        }
        for pid, title, title_en, cat, gmv, units in rows
    ]


def overview(wh: Warehouse, tz: str = "Asia/Shanghai") -> Overview:
    """Everything the Overview page shows, computed in the warehouse."""
    status = warehouse_status(wh)
    tables = status["tables"]
    last = wh.sql("SELECT max(ts) FROM events")[0][0]
    gmv, source = gmv_per_day(wh, tz)
    return Overview(
        row_counts={t: int(tables[t]["rows"]) for t in STATUS_TABLES if t in tables},
        last_event=last,
        quarantine_open=int(status["quarantine_open"]),
        quarantine_by_reason=dict(status["quarantine_by_reason"]),
        events_per_hour=events_per_hour(wh, tz),
        gmv_per_day=gmv,
        gmv_source=source,
        top_products=top_products(wh),
    )


#: The KPIs the Overview shows as tiles, in order.
TILES = ("gmv", "orders", "buyers", "aov", "viewers", "gpm", "view_to_buy", "refund_rate")


def kpi_tiles(
    wh: Warehouse, tz: str = "Asia/Shanghai", days: int = 7, *, rollup: bool = True
) -> dict[str, Any]:
    """Each tile KPI over the last ``days`` days of data against the ``days`` before, its value per day
    over both (the sparkline) and where its platform target stands (the nearest period that has one).

    The numbers come from the KPI rollup (``rollups``: refreshed first where the data changed, equal to
    ``kpis.compute`` on the raw tables), or from ``kpis.compute`` where it cannot answer or ``rollup`` is
    False."""
    newest = targets.newest_data(wh)
    if newest is None:
        return {"as_of": None, "days": days, "tiles": []}
    end = newest + timedelta(microseconds=1)
    start, before = end - timedelta(days=days), end - timedelta(days=2 * days)
    asked = [
        rollups.Request("platform", start, end),
        rollups.Request("platform", before, start),
        rollups.Request("day", before, end),
    ]
    got = rollups.compute(wh, list(TILES), asked, tz) if rollup else None
    if got is None:
        got = [compute(wh, list(TILES), r.grain, start=r.start, end=r.end, tz=tz)["rows"] for r in asked]
    now, prev = got[0][0], got[1][0]
    daily = sorted((r for r in got[2] if r["key"]), key=lambda r: r["key"])
    tracked: dict[str, dict[str, Any]] = {}
    for t in targets.status(wh, as_of=newest, tz=tz)["targets"]:
        if t["grain"] == "platform":
            tracked.setdefault(t["metric"], t)
    tiles = [
        comparison(m, now.get(m), prev.get(m))
        | {"trend": [(r["key"], r[m]) for r in daily], "target": tracked.get(m)}
        for m in TILES
    ]
    return {"as_of": newest.isoformat(), "start": start.isoformat(), "days": days, "tiles": tiles}
