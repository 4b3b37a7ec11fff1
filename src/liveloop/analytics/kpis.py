"""The KPI registry: live-commerce metrics defined as code, each with its formula, unit and direction,
computed at any grain (platform, day, host, session, product, channel, segment) over a time window.

A KPI is a ratio (or a plain value) of *measures*; the measures are aggregates over the paid orders and
over the events, computed in one DuckDB query per request. The formulas, in the terms of the reference
study (全域 strategy §3.3, §5.1):

- GMV: the amount of paid orders (refunded, cancelled and failed orders excluded), as the Overview counts it.
- GPM (GMV per 1,000 views): GMV × 1000 / live-room entries. UV value: GMV / unique viewers.
- view-to-buy conversion: buyers / unique viewers. Interaction rate: viewers who liked, commented, shared or
  sent a gift / unique viewers. Follower conversion (转粉率): viewers who followed / unique viewers.
- average watch time: the mean seconds between a viewer's entry and the leave that follows it.
- product click-through: product clicks / live-room entries; add-to-cart rate: users who added to the cart
  / users who viewed a product; impression-to-entry: entries / impressions.
- refund rate: refunded orders / (paid + refunded orders); repurchase rate: buyers with two or more paid
  orders in the window / buyers; new-customer share: buyers whose first paid order ever falls in the window
  / buyers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import TableSource
from liveloop.warehouse.orders import paid

GRAINS = ("platform", "day", "host", "session", "product", "channel", "segment")
#: Grains only the engine uses (experiment analysis): not offered to users of the KPI API.
UNIT_GRAINS = ("user",)
_PAID = paid()
_PLACED = "status NOT IN ('cancelled', 'failed')"
ROOM_INTERACTIONS = ("like", "comment", "share", "gift")


@dataclass(frozen=True)
class Metric:
    """One KPI: ``numerator / denominator`` of measures (times ``scale``), or a plain measure."""

    key: str
    name_en: str
    name_zh: str
    numerator: str
    denominator: str | None = None
    scale: float = 1.0
    unit: str = "count"  # count | money | ratio | seconds
    higher_is_better: bool = True

    def value(self, measures: dict[str, float]) -> float | None:
        top = measures.get(self.numerator) or 0.0
        if self.denominator is None:
            return round(top * self.scale, 4)
        bottom = measures.get(self.denominator) or 0.0
        return round(top * self.scale / bottom, 6) if bottom else None


#: Every KPI liveloop knows, in the order pages show them.
METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("gmv", "GMV", "成交额", "gmv", unit="money"),
        Metric("orders", "orders", "订单数", "orders"),
        Metric("buyers", "buyers", "买家数", "buyers"),
        Metric("aov", "average order value", "客单价", "gmv", "orders", unit="money"),
        Metric("gpm", "GPM (GMV per 1,000 views)", "千次观看成交额", "gmv", "room_views", 1000.0, "money"),
        Metric("uv_value", "UV value", "UV价值", "gmv", "viewers", unit="money"),
        Metric("viewers", "unique viewers", "观看人数", "viewers"),
        Metric("room_views", "live-room views", "观看次数", "room_views"),
        Metric("view_to_buy", "view-to-buy conversion", "观看-成交转化率", "buyers", "viewers", unit="ratio"),
        Metric(
            "impression_to_entry",
            "impression-to-entry rate",
            "曝光进房率",
            "room_views",
            "impressions",
            unit="ratio",
        ),
        Metric(
            "avg_watch_seconds",
            "average watch time",
            "平均观看时长",
            "watch_seconds",
            "visits",
            unit="seconds",
        ),
        Metric("interaction_rate", "interaction rate", "互动率", "interactors", "viewers", unit="ratio"),
        Metric("follower_conversion", "follower conversion", "转粉率", "followers", "viewers", unit="ratio"),
        Metric(
            "product_ctr", "product click-through", "商品点击率", "product_clicks", "room_views", unit="ratio"
        ),
        Metric(
            "add_to_cart_rate", "add-to-cart rate", "加购率", "cart_users", "product_viewers", unit="ratio"
        ),
        Metric(
            "refund_rate",
            "refund rate",
            "退款率",
            "refunded_orders",
            "placed_orders",
            unit="ratio",
            higher_is_better=False,
        ),
        Metric("repurchase_rate", "repurchase rate", "复购率", "repeat_buyers", "buyers", unit="ratio"),
        Metric("new_customer_share", "new-customer share", "新客占比", "new_buyers", "buyers", unit="ratio"),
    )
}


def _key(grain: str, tz_param: str = "?") -> str:
    """The grain's key over a row ``x`` (with ``x.user_id``, ``x.ts``, ``x.session_id`` …)."""
    return {
        "platform": "'all'",
        "day": f"strftime(timezone({tz_param}, x.ts), '%Y-%m-%d')",
        "host": "s.host_id",
        "session": "x.session_id",
        "product": "x.product_id",
        "channel": "x.channel",
        "segment": "p.segment_id",
        "user": "x.user_id",
    }[grain]


def _joins(grain: str) -> str:
    if grain == "host":
        return " LEFT JOIN live_sessions s ON s.session_id = x.session_id"
    if grain == "segment":
        return " LEFT JOIN profiles p ON p.user_id = x.user_id"
    return ""


def check_request(
    metrics: list[str],
    grain: str,
    start: datetime | None,
    end: datetime | None,
    grains: tuple[str, ...] = GRAINS,
) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValidationFailed(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}", field="metrics")
    if grain not in grains:
        raise ValidationFailed(f"unknown grain {grain!r}; known: {', '.join(GRAINS)}", field="grain")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")


def measures(
    wh: TableSource,
    grain: str = "platform",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    where: dict[str, str] | None = None,
    tz: str = "Asia/Shanghai",
    need: set[str] | None = None,
    exposure: tuple[str, int | None] | None = None,
) -> dict[str | None, dict[str, float]]:
    """Every measure per grain key over ``[start, end)`` (key None: rows without one, such as orders
    outside live rooms); ``where`` keeps one value of other grains (``{"session": "s1"}``).

    ``exposure=(experiment_id, None)`` keeps only the exposed users' rows from their first exposure on;
    ``(experiment_id, days)`` only their rows of the ``days`` before it (the pre-period of CUPED).
    """
    check_request([], grain, start, end, GRAINS + UNIT_GRAINS)
    for g in where or {}:
        if g not in GRAINS or g in ("platform",):
            raise ValidationFailed(
                f"cannot filter by {g!r}; use one of {', '.join(GRAINS[1:])}", field="where"
            )
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    filters = [(g, v) for g, v in (where or {}).items()]
    # product grain: orders count per line; otherwise per order
    order_rows = (
        "SELECT o.order_id, o.user_id, o.ts, o.session_id, o.channel, o.status, i.product_id, i.amount "
        "FROM orders o JOIN order_items i USING (order_id)"
        if grain == "product" or any(g == "product" for g, _ in filters)
        else "SELECT order_id, user_id, ts, session_id, channel, status, NULL AS product_id, amount "
        "FROM orders"
    )

    def keyed(source: str, extra: str = "") -> tuple[str, list[Any]]:
        params: list[Any] = []
        key = _key(grain)
        if grain == "day":
            params.append(tz)
        conds = ["x.ts >= ?", "x.ts < ?"]
        cond_params: list[Any] = [lo, hi]
        joins = _joins(grain)
        if exposure is not None:
            joins += (
                " JOIN (SELECT user_id AS xp_user, min(ts) AS xp_ts FROM exposures WHERE experiment_id = ? "
                "GROUP BY 1) xp ON xp.xp_user = x.user_id"
            )
            params.append(exposure[0])
            if exposure[1] is None:
                conds.append("x.ts >= xp.xp_ts")
            else:
                conds += ["x.ts >= xp.xp_ts - to_days(CAST(? AS INTEGER))", "x.ts < xp.xp_ts"]
                cond_params.append(int(exposure[1]))
        for g, v in filters:
            if _joins(g) and _joins(g) not in joins:
                joins += _joins(g)
            conds.append(f"{_key(g)} = ?")
            if g == "day":
                cond_params.append(tz)
            cond_params.append(v)
        sql = f"SELECT {key} AS k, x.* FROM ({source}) x{joins} WHERE {' AND '.join(conds)}{extra}"
        return sql, params + cond_params

    o_sql, o_params = keyed(order_rows, f" AND x.{_PLACED}")
    e_sql, e_params = keyed(
        "SELECT user_id, ts, type, session_id, product_id, channel FROM events",
        " AND x.type IN ('enter_room', 'leave_room', 'impression', 'click', 'view', 'add_to_cart', 'follow', "
        "'like', 'comment', 'share', 'gift')",
    )
    # the costly parts run only when a requested metric uses them
    buyers_needed = str(need is None or bool(need & {"repeat_buyers", "new_buyers"})).upper()
    watch_needed = str(need is None or bool(need & {"visits", "watch_seconds"})).upper()
    sql = f"""
    WITH o AS ({o_sql}),
    first_order AS (SELECT user_id, min(ts) AS first_ts FROM orders WHERE {_PAID} GROUP BY 1),
    per_buyer AS (
        SELECT k, user_id, count(DISTINCT order_id) AS n, min(first_ts) >= ? AS new_buyer
        FROM o JOIN first_order USING (user_id) WHERE o.{_PAID} AND {buyers_needed} GROUP BY k, user_id
    ),
    om AS (
        SELECT k,
            sum(amount) FILTER (WHERE {_PAID}) AS gmv,
            count(DISTINCT order_id) FILTER (WHERE {_PAID}) AS orders,
            count(DISTINCT user_id) FILTER (WHERE {_PAID}) AS buyers,
            count(DISTINCT order_id) FILTER (WHERE status = 'refunded') AS refunded_orders,
            count(DISTINCT order_id) AS placed_orders
        FROM o GROUP BY k
    ),
    bm AS (
        SELECT k, count(*) FILTER (WHERE n >= 2) AS repeat_buyers,
            count(*) FILTER (WHERE new_buyer) AS new_buyers
        FROM per_buyer GROUP BY k
    ),
    e AS ({e_sql}),
    em AS (
        SELECT k,
            count(*) FILTER (WHERE type = 'enter_room') AS room_views,
            count(DISTINCT user_id) FILTER (WHERE type = 'enter_room') AS viewers,
            count(*) FILTER (WHERE type = 'impression') AS impressions,
            count(DISTINCT user_id) FILTER (WHERE type IN {ROOM_INTERACTIONS}) AS interactors,
            count(DISTINCT user_id) FILTER (WHERE type = 'follow') AS followers,
            count(*) FILTER (WHERE type = 'click' AND product_id IS NOT NULL) AS product_clicks,
            count(DISTINCT user_id) FILTER (WHERE type = 'view') AS product_viewers,
            count(DISTINCT user_id) FILTER (WHERE type = 'add_to_cart') AS cart_users
        FROM e GROUP BY k
    ),
    ev AS (
        SELECT k, user_id, session_id, type, epoch(ts) AS t,
            row_number() OVER (PARTITION BY user_id, session_id, type ORDER BY ts) AS n
        FROM e WHERE type IN ('enter_room', 'leave_room') AND session_id IS NOT NULL AND {watch_needed}
    ),
    wm AS (
        SELECT a.k, count(*) AS visits, sum(b.t - a.t) AS watch_seconds
        FROM ev a JOIN ev b ON a.user_id = b.user_id AND a.session_id = b.session_id AND a.n = b.n
            AND a.type = 'enter_room' AND b.type = 'leave_room' AND b.t >= a.t
        GROUP BY a.k
    )
    SELECT coalesce(om.k, em.k) AS k, om.gmv, om.orders, om.buyers, om.refunded_orders, om.placed_orders,
        bm.repeat_buyers, bm.new_buyers, em.room_views, em.viewers, em.impressions, em.interactors,
        em.followers, em.product_clicks, em.product_viewers, em.cart_users, wm.visits, wm.watch_seconds
    FROM om FULL JOIN em ON om.k IS NOT DISTINCT FROM em.k
    LEFT JOIN bm ON bm.k IS NOT DISTINCT FROM coalesce(om.k, em.k)
    LEFT JOIN wm ON wm.k IS NOT DISTINCT FROM coalesce(om.k, em.k)
    ORDER BY 1 NULLS LAST
    """
    rows = wh.sql(sql, [*o_params, lo, *e_params])
    names = (
        "gmv", "orders", "buyers", "refunded_orders", "placed_orders", "repeat_buyers", "new_buyers",
        "room_views", "viewers", "impressions", "interactors", "followers", "product_clicks",
        "product_viewers", "cart_users", "visits", "watch_seconds",
    )  # fmt: skip
    out: dict[str | None, dict[str, float]] = {}
    for row in rows:
        out[None if row[0] is None else str(row[0])] = {
            n: float(v or 0) for n, v in zip(names, row[1:], strict=True)
        }
    if grain == "platform" and not out:  # nothing in the window: every count is 0, every ratio unknown
        out["all"] = dict.fromkeys(names, 0.0)
    return out


def compute(
    wh: TableSource,
    metrics: list[str] | None = None,
    grain: str = "platform",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    where: dict[str, str] | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """KPIs per grain key: ``{"grain", "metrics": [...], "rows": [{"key", metric: value …}]}``."""
    metrics = list(metrics or METRICS)
    check_request(metrics, grain, start, end)
    need = {x for m in metrics for x in (METRICS[m].numerator, METRICS[m].denominator) if x}
    per_key = measures(wh, grain, start=start, end=end, where=where, tz=tz, need=need)
    rows = [{"key": k, **{m: METRICS[m].value(v) for m in metrics}} for k, v in per_key.items()]
    return {
        "grain": grain,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "where": where or {},
        "metrics": [
            {"key": m, "name_en": METRICS[m].name_en, "name_zh": METRICS[m].name_zh, "unit": METRICS[m].unit}
            for m in metrics
        ],
        "rows": rows,
    }


def comparison(key: str, value: float | None, previous: float | None) -> dict[str, Any]:
    """A KPI's value beside its value in an earlier window (or a benchmark): the relative change, and which
    way is better — a row of a report or a tile of the Overview."""
    m = METRICS[key]
    return {
        "metric": key,
        "name_en": m.name_en,
        "name_zh": m.name_zh,
        "unit": m.unit,
        "higher_is_better": m.higher_is_better,
        "value": value,
        "previous": previous,
        "change": round(value / previous - 1, 4) if value is not None and previous else None,
    }
