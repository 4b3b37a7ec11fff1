"""The weekly and monthly marketing report, as data: the period's KPIs against the period before and the
targets, GMV per day, the live funnel, which channel paid (last touch beside the data-driven model, with
cost), the best sessions, hosts and products.

The period is the last complete ISO week or calendar month (local time) before the newest data, or the
one that starts on the day given; a warehouse with less than a period of data gets the period so far,
marked ``partial``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from liveloop.analytics import attribution
from liveloop.analytics.funnels import PRESETS, FunnelSpec
from liveloop.analytics.funnels import run as run_funnel
from liveloop.analytics.kpis import comparison, compute
from liveloop.analytics.targets import newest_data, period_end, period_start
from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

PERIODS = {"weekly": "week", "monthly": "month"}
PERIOD_KPIS = (
    "gmv", "orders", "buyers", "aov", "viewers", "gpm", "uv_value", "view_to_buy", "avg_watch_seconds",
    "interaction_rate", "refund_rate", "repurchase_rate", "new_customer_share",
)  # fmt: skip
TOP = 10


def period_of(
    wh: Warehouse, kind: str, *, start: date | None = None, tz: str = "Asia/Shanghai"
) -> tuple[datetime, datetime, bool]:
    """``(start, end, partial)`` of the report's period (see the module's docstring)."""
    if kind not in PERIODS:
        raise ValidationFailed(f"kind must be one of {', '.join(PERIODS)}", field="kind")
    period = PERIODS[kind]
    if start is not None:
        lo = period_start(datetime.combine(start, time(12), ZoneInfo(tz)), period, tz)
        if lo.date() != start:
            what = "a Monday" if period == "week" else "the first day of a month"
            raise ValidationFailed(f"a {kind} report starts on {what}, not {start}", field="start")
        return lo, period_end(lo, period), False
    newest = newest_data(wh)
    if newest is None:
        raise InsufficientData("the warehouse has no events or orders: no report to write", field="kind")
    current = period_start(newest, period, tz)
    previous = period_start(current - timedelta(days=1), period, tz)
    oldest = wh.sql("SELECT least(min(ts), (SELECT min(ts) FROM orders)) FROM events")[0][0]
    if oldest is not None and oldest <= previous + timedelta(days=1):
        return previous, current, False
    return current, newest + timedelta(microseconds=1), True


def _kpi_rows(wh: Warehouse, lo: datetime, hi: datetime, kind: str, tz: str) -> list[dict[str, Any]]:
    span = hi - lo
    now = compute(wh, list(PERIOD_KPIS), start=lo, end=hi, tz=tz)["rows"]
    before = compute(wh, list(PERIOD_KPIS), start=lo - span, end=lo, tz=tz)["rows"]
    now_v, before_v = (rows[0] if rows else {} for rows in (now, before))
    targets = {
        str(m): float(t)
        for m, t in wh.sql(
            "SELECT metric, target FROM kpi_targets WHERE grain = 'platform' AND period = ?", [PERIODS[kind]]
        )
    }
    return [comparison(m, now_v.get(m), before_v.get(m)) | {"target": targets.get(m)} for m in PERIOD_KPIS]


def _top_sessions(wh: Warehouse, lo: datetime, hi: datetime, tz: str) -> list[dict[str, Any]]:
    rows = compute(wh, ["gmv", "orders", "viewers", "gpm", "view_to_buy"], "session", start=lo, end=hi, tz=tz)
    ranked = sorted((r for r in rows["rows"] if r["key"]), key=lambda r: -(r["gmv"] or 0))[:TOP]
    names = {
        str(s): (t, h)
        for s, t, h in wh.sql(
            "SELECT session_id, title, host_id FROM live_sessions WHERE list_contains(?, session_id)",
            [[r["key"] for r in ranked]],
        )
    }
    return [
        {**r, "title": names.get(r["key"], (None, None))[0], "host_id": names.get(r["key"], (None, None))[1]}
        for r in ranked
    ]


def _hosts(wh: Warehouse, lo: datetime, hi: datetime, tz: str) -> list[dict[str, Any]]:
    rows = compute(wh, ["gmv", "orders", "viewers", "gpm", "view_to_buy"], "host", start=lo, end=hi, tz=tz)
    names = {str(h): n for h, n in wh.sql("SELECT host_id, name FROM hosts")}
    ranked = sorted((r for r in rows["rows"] if r["key"]), key=lambda r: -(r["gmv"] or 0))[:TOP]
    return [{**r, "name": names.get(r["key"])} for r in ranked]


def _products(wh: Warehouse, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    return list(
        wh.arrow(
            "SELECT i.product_id, any_value(p.title) AS title, any_value(p.title_en) AS title_en, "
            "any_value(p.category) AS category, sum(i.amount)::DOUBLE AS gmv, sum(i.quantity) AS units "
            "FROM orders o JOIN order_items i USING (order_id) LEFT JOIN products p USING (product_id) "
            f"WHERE o.ts >= ? AND o.ts < ? AND {paid('o')} "
            "GROUP BY 1 ORDER BY gmv DESC, 1 LIMIT ?",
            [lo, hi, TOP],
        ).to_pylist()
    )


def _channels(wh: Warehouse, lo: datetime, hi: datetime) -> dict[str, Any]:
    """Last touch and the data-driven (Markov) model side by side, per channel, with cost."""
    last = attribution.attribute(wh, model="last", start=lo, end=hi, top_paths=5)
    markov = attribution.attribute(wh, model="markov", start=lo, end=hi, top_paths=5)
    by_touch = {r["touch"]: r for r in markov["rows"]}
    rows = [
        {**r, "markov_orders": by_touch.get(r["touch"], {}).get("orders"),
         "markov_gmv": by_touch.get(r["touch"], {}).get("gmv"),
         "markov_roas": by_touch.get(r["touch"], {}).get("roas")}
        for r in last["rows"]
    ]  # fmt: skip
    return {"rows": rows, "paths": last["paths"], "orders": last["orders"], "gmv": last["gmv"]}


def _live_funnel(wh: Warehouse, lo: datetime, hi: datetime) -> dict[str, Any]:
    """The live funnel of the period; from room entry on where the data has no impressions (an ordered
    funnel would otherwise be empty from its first step)."""
    steps = PRESETS["live"]
    seen = wh.sql("SELECT count(*) FROM events WHERE type = 'impression' AND ts >= ? AND ts < ?", [lo, hi])
    if not seen[0][0]:
        steps = steps[1:]
    return run_funnel(wh, FunnelSpec(steps=steps, start=lo, end=hi))


def marketing(
    wh: Warehouse, kind: str = "weekly", *, start: date | None = None, tz: str = "Asia/Shanghai"
) -> dict[str, Any]:
    """Everything the weekly (or monthly) marketing report shows; a period without data is refused."""
    lo, hi, partial = period_of(wh, kind, start=start, tz=tz)
    kpis = _kpi_rows(wh, lo, hi, kind, tz)
    values = {r["metric"]: r["value"] for r in kpis}
    if not values.get("orders") and not values.get("viewers"):
        raise InsufficientData(
            f"no orders and no viewers from {lo.date()} to {hi.date()}: no {kind} report to write",
            field="start",
        )
    days = compute(wh, ["gmv", "orders", "viewers"], "day", start=lo, end=hi, tz=tz)["rows"]
    funnel = _live_funnel(wh, lo, hi)
    return {
        "kind": kind,
        "period_start": lo,
        "period_end": hi,
        "partial": partial,
        "kpis": kpis,
        "days": sorted((r for r in days if r["key"]), key=lambda r: r["key"]),
        "funnel": funnel["steps"],
        "funnel_without_impressions": funnel["steps"][0]["step"] != "impression",
        "channels": _channels(wh, lo, hi),
        "sessions": _top_sessions(wh, lo, hi, tz),
        "hosts": _hosts(wh, lo, hi, tz),
        "products": _products(wh, lo, hi),
    }
