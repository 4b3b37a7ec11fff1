"""Which channel (or campaign) paid: paid orders attributed to the touches before them, with cost.

A *touch* is a marketing message sent to the user (``messages``: its channel and campaign) or an event
that says where the user came from (an impression, room entry, search, view, click or message open with
its channel; ``live`` for a room entry without one). An order's *path* is its user's touches in the
``window_days`` before it, repeats in a row counted once, at most ``MAX_PATH`` of the latest; an order
without one is ``direct``.

Models: ``last`` and ``first`` touch; ``linear`` (equal shares); ``position`` (40% first, 40% last, 20%
shared by those between; 50/50 for two touches); ``markov`` — data-driven: a first-order Markov chain over
every path (converting, and the touches of users who did not buy afterwards), each channel credited by its
*removal effect* (how much the conversion probability falls without it), normalised over the channels.

Beside the credited orders and GMV: cost from ``costs`` (same window), new customers credited, CAC
(cost / new customers), ROAS (GMV / cost) and ROI ((GMV − cost) / cost); and the most common paths with
how often they convert.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

MODELS = ("last", "first", "linear", "position", "markov")
LEVELS = ("channel", "campaign")
TOUCH_EVENTS = ("impression", "enter_room", "search", "view", "click", "message_open", "message_click")
MAX_PATH = 10
MAX_WINDOW_DAYS = 90
DIRECT = "direct"
_PAID = paid()


def _check(model: str, level: str, window_days: int, start: datetime | None, end: datetime | None) -> None:
    if model not in MODELS:
        raise ValidationFailed(f"model must be one of {', '.join(MODELS)}", field="model")
    if level not in LEVELS:
        raise ValidationFailed(f"level must be one of {', '.join(LEVELS)}", field="level")
    if (
        isinstance(window_days, bool)
        or not isinstance(window_days, int)
        or not 1 <= window_days <= MAX_WINDOW_DAYS
    ):
        raise ValidationFailed(f"the look-back window is 1 to {MAX_WINDOW_DAYS} days", field="window_days")
    if start and end and end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")


def _touches_sql(level: str) -> str:
    what = "channel" if level == "channel" else "coalesce(campaign, channel)"
    return (
        f"SELECT user_id, ts, {what} AS touch FROM ("
        "SELECT user_id, sent_at AS ts, channel, campaign_id AS campaign FROM messages "
        "WHERE sent_at IS NOT NULL AND coalesce(grp, 'treatment') <> 'holdout' "
        "AND status IN ('sent', 'delivered') "
        "UNION ALL SELECT user_id, ts, coalesce(channel, CASE WHEN type = 'enter_room' THEN 'live' END), "
        "CASE WHEN type = 'enter_room' THEN session_id END FROM events "
        f"WHERE type IN {TOUCH_EVENTS}) WHERE {what} IS NOT NULL"
    )


def paths(
    wh: Warehouse,
    *,
    level: str = "channel",
    window_days: int = 7,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[dict[str, Any]], Counter[tuple[str, ...]]]:
    """Each paid order in ``[start, end)`` with its path, and the non-converting paths (touches after a
    user's last order, or all of them for users who never bought) counted by path."""
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    touches = _touches_sql(level)
    rows = wh.sql(
        f"WITH t AS ({touches}), o AS (SELECT order_id, user_id, ts, amount, "
        f"ts = min(ts) OVER (PARTITION BY user_id) AS first_order FROM orders WHERE {_PAID}) "
        "SELECT o.order_id, o.amount::DOUBLE, o.first_order, "
        f"list(t.touch ORDER BY t.ts)[-{5 * MAX_PATH}:] AS path FROM o LEFT JOIN t ON t.user_id = o.user_id "
        "AND t.ts < o.ts AND t.ts >= o.ts - to_days(?) WHERE o.ts >= ? AND o.ts < ? "
        "GROUP BY o.order_id, o.amount, o.first_order",
        [window_days, lo, hi],
    )
    orders = [
        {
            "order_id": r[0],
            "amount": float(r[1] or 0),
            "new_customer": bool(r[2]),
            "path": _compact(r[3]),
        }
        for r in rows
    ]
    lost = wh.sql(
        f"WITH t AS ({touches}), last_order AS (SELECT user_id, max(ts) AS ts FROM orders WHERE "
        f"{_PAID} GROUP BY 1) "
        f"SELECT list(t.touch ORDER BY t.ts)[-{5 * MAX_PATH}:] AS path FROM t "
        "LEFT JOIN last_order l USING (user_id) WHERE (l.ts IS NULL OR t.ts > l.ts) AND t.ts >= ? "
        "AND t.ts < ? "
        "GROUP BY t.user_id",
        [lo, hi],
    )
    return orders, Counter(_compact(r[0]) for r in lost if r[0])


def _compact(touches: list[str] | None) -> tuple[str, ...]:
    """Repeats in a row counted once; the latest ``MAX_PATH``."""
    out: list[str] = []
    for t in touches or []:
        if t and (not out or out[-1] != t):
            out.append(t)
    return tuple(out[-MAX_PATH:])


def _shares(path: tuple[str, ...], model: str) -> dict[str, float]:
    if not path:
        return {DIRECT: 1.0}
    if model == "last":
        return {path[-1]: 1.0}
    if model == "first":
        return {path[0]: 1.0}
    out: dict[str, float] = defaultdict(float)
    if model == "linear" or len(path) == 1:
        for touch in path:
            out[touch] += 1 / len(path)
        return out
    if len(path) == 2:
        out[path[0]] += 0.5
        out[path[1]] += 0.5
        return out
    out[path[0]] += 0.4
    out[path[-1]] += 0.4
    for touch in path[1:-1]:
        out[touch] += 0.2 / (len(path) - 2)
    return out


def removal_effects(converting: Counter[tuple[str, ...]], lost: Counter[tuple[str, ...]]) -> dict[str, float]:
    """Each channel's removal effect in a first-order Markov chain over the paths (start → touches →
    conversion or null): 1 − P(convert without the channel) / P(convert)."""
    states = sorted({s for p in (*converting, *lost) for s in p})
    if not states:
        return {}
    index = {s: i + 1 for i, s in enumerate(states)}  # 0 start, then channels, then conv, null
    n = len(states) + 3
    conv, null = n - 2, n - 1
    counts = np.zeros((n, n))
    for bag, end in ((converting, conv), (lost, null)):
        for path, c in bag.items():
            chain = [0, *(index[s] for s in path), end]
            for a, b in pairwise(chain):
                counts[a, b] += c
    counts[conv, conv] = counts[null, null] = 1.0

    def p_convert(removed: int | None) -> float:
        m = counts.copy()
        if removed is not None:  # every step into the removed state goes to null instead
            m[:, null] += m[:, removed]
            m[:, removed] = 0
            m[removed, :] = 0
            m[removed, null] = 1.0
        rows = m.sum(axis=1, keepdims=True)
        rows[rows == 0] = 1.0
        p = m / rows
        transient = [i for i in range(n) if i not in (conv, null)]
        q = p[np.ix_(transient, transient)]
        r = p[np.ix_(transient, [conv])]
        absorbed = np.linalg.solve(np.eye(len(transient)) - q, r)
        return float(absorbed[0, 0])

    base = p_convert(None)
    if base <= 0:
        return dict.fromkeys(states, 0.0)
    return {s: max(0.0, 1 - p_convert(index[s]) / base) for s in states}


def attribute(
    wh: Warehouse,
    *,
    model: str = "last",
    level: str = "channel",
    window_days: int = 7,
    start: datetime | None = None,
    end: datetime | None = None,
    top_paths: int = 10,
) -> dict[str, Any]:
    """Orders, GMV and new customers credited to each channel (or campaign) under ``model``, with cost,
    CAC, ROAS and ROI, and the most common paths."""
    _check(model, level, window_days, start, end)
    orders, lost = paths(wh, level=level, window_days=window_days, start=start, end=end)
    credit: dict[str, dict[str, float]] = defaultdict(
        lambda: {"orders": 0.0, "gmv": 0.0, "new_customers": 0.0}
    )
    if model == "markov":
        converting = Counter(o["path"] for o in orders if o["path"])
        effects = removal_effects(converting, lost)
        total = sum(effects.values())
        weights = {s: e / total for s, e in effects.items()} if total else {}
    for o in orders:
        if model == "markov" and o["path"]:
            present = {s: weights.get(s, 0.0) for s in set(o["path"])}
            norm = sum(present.values())
            shares = {s: w / norm for s, w in present.items()} if norm else _shares(o["path"], "linear")
        else:
            shares = _shares(o["path"], model)
        for touch, share in shares.items():
            credit[touch]["orders"] += share
            credit[touch]["gmv"] += share * o["amount"]
            credit[touch]["new_customers"] += share * o["new_customer"]
    costs = _costs(wh, level, start, end)
    rows = []
    for touch in sorted(set(credit) | set(costs), key=lambda t: -credit[t]["gmv"] if t in credit else 0):
        c = credit.get(touch, {"orders": 0.0, "gmv": 0.0, "new_customers": 0.0})
        cost = costs.get(touch)
        rows.append(
            {
                "touch": touch,
                "orders": round(c["orders"], 4),
                "gmv": round(c["gmv"], 2),
                "new_customers": round(c["new_customers"], 4),
                "cost": cost,
                "cac": round(cost / c["new_customers"], 2) if cost and c["new_customers"] else None,
                "roas": round(c["gmv"] / cost, 4) if cost else None,
                "roi": round((c["gmv"] - cost) / cost, 4) if cost else None,
            }
        )
    conv_paths = Counter(o["path"] or (DIRECT,) for o in orders)
    common = []
    for path, n in conv_paths.most_common(top_paths):
        tried = n + lost.get(path, 0)
        common.append(
            {
                "path": list(path),
                "conversions": n,
                "non_converting": lost.get(path, 0),
                "rate": round(n / tried, 4),
            }
        )
    return {
        "model": model,
        "level": level,
        "window_days": window_days,
        "orders": len(orders),
        "gmv": round(sum(o["amount"] for o in orders), 2),
        "rows": rows,
        "paths": common,
    }


def _costs(wh: Warehouse, level: str, start: datetime | None, end: datetime | None) -> dict[str, float]:
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    currencies = [
        r[0]
        for r in wh.sql(
            "SELECT DISTINCT upper(coalesce(currency, 'CNY')) FROM costs WHERE day >= ? AND day < ?", [lo, hi]
        )
    ]
    if len(currencies) > 1:
        raise ValidationFailed(
            f"the costs mix currencies ({', '.join(sorted(currencies))}): convert them to one first",
            field="currency",
        )
    what = "channel" if level == "channel" else "coalesce(campaign_id, session_id, channel)"
    rows = wh.sql(
        f"SELECT {what}, sum(amount)::DOUBLE FROM costs WHERE day >= ? AND day < ? GROUP BY 1", [lo, hi]
    )
    return {str(k): round(float(v), 2) for k, v in rows}


def compare(wh: Warehouse, **kwargs: Any) -> dict[str, Any]:
    """Every model side by side (credited GMV per channel)."""
    return {m: attribute(wh, model=m, **kwargs) for m in MODELS}


def report(wh: Warehouse, model: str = "last", **kwargs: Any) -> dict[str, Any]:
    """One model's attribution, or every model's side by side for ``model="all"``."""
    return compare(wh, **kwargs) if model == "all" else attribute(wh, model=model, **kwargs)


def costs_per_day(
    wh: Warehouse, *, start: datetime | None = None, end: datetime | None = None, tz: str = "Asia/Shanghai"
) -> list[dict[str, Any]]:
    """Spend per local day and channel (the Channels & Cost page's chart)."""
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    rows = wh.sql(
        "SELECT CAST(timezone(?, day) AS DATE) AS d, channel, sum(amount)::DOUBLE FROM costs "
        "WHERE day >= ? AND day < ? GROUP BY 1, 2 ORDER BY 1, 2",
        [tz, lo, hi],
    )
    return [{"day": d, "channel": c, "cost": round(v, 2)} for d, c, v in rows]
