"""The KPI rollup: the measures of ``kpis`` pre-aggregated per local day, so that the Overview's tiles do
not scan the raw events on every request, with every number equal to ``kpis.compute`` on the raw tables.

Two tables, their rows kept per display timezone (migration 12, with ``kpi_rollup_state``):

- ``kpi_rollup_days``: per local day the additive measures (room entries, impressions, product clicks,
  the events of the KPI types; GMV, paid, refunded and placed orders), that day's unique viewers and
  buyers, and what the day was built from (all its events; its orders' row count and an XOR of their
  hashes).
- ``kpi_rollup_users``: per local day and user who entered a live room or paid, the entries and paid
  orders with the first and last time of each. A unique count over any set of days is a
  ``count(DISTINCT user_id)`` over these rows (viewers and buyers are a small part of the active
  users), so it is exact, not a sketch.

A window rarely starts at a local midnight: the days wholly inside it come from the rollup, and at most
one part day at each edge (none at the end when the window ends after the newest data) is counted from
the raw tables by time range, while its unique users come from the rollup's times: a viewer of the part
from ``a`` to the day's end is one whose last entry that day is at or after ``a`` (a part from the day's
start to ``b``: first entry before ``b``). Only a window inside one day that ends before the newest
data reads user ids from the raw events. All of it is one query.

Freshness: the rollup never answers from stale rows. Every read first compares, in one transaction
with the read, the raw tables with what the rollup was built from: the events' row count and newest
``ingested_at`` (kept in ``kpi_rollup_state``; both come from DuckDB's statistics, ~1 ms) and the
orders' row count and XOR of row hashes (one pass over the orders, which are a few per cent of the
events). Then only the touched days are rebuilt: the local days of the events ingested after the
watermark (when they account for every new row), and the days whose orders' count or hash changed
(imports, refunds, a retail upsert). Anything else (events deleted by an erasure or retention, rows
loaded with an old ``ingested_at``) rebuilds the timezone's rollup in full. Events are otherwise
append-only: an ``UPDATE events`` in place is the one change the check cannot see. A read-only
warehouse whose rollup is stale, or a rollup that cannot answer the request (other measures, grains,
filters), returns None, and the caller computes from the raw tables.

The users' rows carry ``user_id``, so an erasure deletes them with the person's events (and the
events' count then rebuilds the rollup). All of it is SQL in DuckDB (bounded memory; no Python loop
over rows).
"""

from __future__ import annotations

import re
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import duckdb

from liveloop.analytics.kpis import METRICS, ROOM_INTERACTIONS, check_request
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

#: The measures the rollup answers (the others need per-visit or per-buyer history: raw tables).
ANSWERS = frozenset(
    {
        "gmv", "orders", "buyers", "refunded_orders", "placed_orders", "room_views", "viewers",
        "impressions", "product_clicks",
    }
)  # fmt: skip
#: The grains it answers, without ``where`` filters.
GRAINS = ("platform", "day")
#: Every measure ``kpis.measures`` returns, in its order (those the rollup lacks are 0).
_NAMES = (
    "gmv", "orders", "buyers", "refunded_orders", "placed_orders", "repeat_buyers", "new_buyers",
    "room_views", "viewers", "impressions", "interactors", "followers", "product_clicks",
    "product_viewers", "cart_users", "visits", "watch_seconds",
)  # fmt: skip
_KPI_TYPES = (
    "enter_room", "leave_room", "impression", "click", "view", "add_to_cart", "follow", *ROOM_INTERACTIONS,
)  # fmt: skip
_TYPES = "(" + ", ".join(f"'{t}'" for t in _KPI_TYPES) + ")"
_PAID = paid()
_PLACED = "status NOT IN ('cancelled', 'failed')"
_FP = "CAST(hash(order_id, user_id, ts, status, amount) >> 1 AS BIGINT)"
#: Every instant of a local day lies within this of any other instant of it (25-hour DST days).
_DAY_SPAN = timedelta(hours=26)


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Execute with the named parameters ``sql`` uses (DuckDB refuses the others)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in used})


def _day(tz_param: str = "$tz", col: str = "ts") -> str:
    """The local day of ``col``, as ``kpis`` keys it ('2026-10-01')."""
    return f"strftime(timezone({tz_param}, {col}), '%Y-%m-%d')"


def _date(tz_param: str, col: str) -> str:
    return f"CAST(timezone({tz_param}, {col}) AS DATE)"


@dataclass(frozen=True)
class Request:
    """One ``kpis.compute`` request the rollup may answer: a grain over ``[start, end)``."""

    grain: str = "platform"
    start: datetime | None = None
    end: datetime | None = None


def can_answer(metrics: list[str], grain: str = "platform", where: dict[str, str] | None = None) -> bool:
    need = {x for m in metrics for x in (METRICS[m].numerator, METRICS[m].denominator) if x}
    return grain in GRAINS and not where and need <= ANSWERS


# -- freshness and refresh -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Raw:
    events: int
    events_ingested: datetime | None
    orders: int
    orders_fp: int
    newest: datetime | None


def _raw(con: duckdb.DuckDBPyConnection) -> _Raw:
    row = con.execute(
        f"SELECT (SELECT count(*) FROM events), (SELECT max(ingested_at) FROM events), "
        f"(SELECT count(*) FROM orders), (SELECT coalesce(bit_xor({_FP}), 0) FROM orders), "
        "greatest((SELECT max(ts) FROM events), (SELECT max(ts) FROM orders))"
    ).fetchall()[0]
    return _Raw(int(row[0]), row[1], int(row[2]), int(row[3]), row[4])


def _built(con: duckdb.DuckDBPyConnection, tz: str) -> tuple[bool, datetime | None, int, int, int]:
    """(has a state, its events watermark, events, orders and orders' hash the days were built from)."""
    state = con.execute("SELECT events_ingested FROM kpi_rollup_state WHERE tz = ?", [tz]).fetchall()
    row = con.execute(
        "SELECT coalesce(sum(events_all), 0), coalesce(sum(orders_rows), 0), coalesce(bit_xor(orders_fp), 0) "
        "FROM kpi_rollup_days WHERE tz = ?",
        [tz],
    ).fetchall()[0]
    return bool(state), state[0][0] if state else None, int(row[0]), int(row[1]), int(row[2])


def _is_fresh(raw: _Raw, built: tuple[bool, datetime | None, int, int, int]) -> bool:
    has_state, watermark, events, orders, fp = built
    return (
        has_state
        and watermark == raw.events_ingested
        and (events, orders, fp) == (raw.events, raw.orders, raw.orders_fp)
    )


def _touched(
    con: duckdb.DuckDBPyConnection, tz: str, raw: _Raw, built: tuple[bool, datetime | None, int, int, int]
) -> list[str] | None:
    """The local days to rebuild, or None: rebuild all."""
    has_state, watermark, events, orders, fp = built
    if not has_state:
        return None
    days: set[str] = set()
    if (watermark, events) != (raw.events_ingested, raw.events):
        after = watermark or datetime(1970, 1, 1, tzinfo=UTC)
        row = con.execute(
            f"SELECT count(*), list(DISTINCT {_day('?')}) FROM events WHERE ingested_at > ?", [tz, after]
        ).fetchall()[0]
        if int(row[0]) != raw.events - events:  # deletions, or rows older than the watermark
            return None
        days.update(row[1] or [])
    if (orders, fp) != (raw.orders, raw.orders_fp):
        rows = con.execute(
            f"SELECT coalesce(r.day, b.day) FROM (SELECT {_day()} AS day, count(*) AS n, "
            f"bit_xor({_FP}) AS fp FROM orders GROUP BY 1) r FULL JOIN (SELECT day, orders_rows AS n, "
            "orders_fp AS fp FROM kpi_rollup_days WHERE tz = $tz AND orders_rows > 0) b USING (day) "
            "WHERE r.n IS DISTINCT FROM b.n OR r.fp IS DISTINCT FROM b.fp",
            {"tz": tz},
        ).fetchall()
        days.update(r[0] for r in rows)
    return sorted(days)


def _rebuild(con: duckdb.DuckDBPyConnection, tz: str, days: list[str] | None) -> None:
    """Replace the rollup rows of ``days`` (None: every day) from the raw tables."""
    params: dict[str, Any] = {"tz": tz}
    mine = "tz = $tz"
    raw_in = "TRUE"
    if days is not None:
        if not days:
            return
        # prune by ts first: the local midnights around the days, with a margin for clock changes
        lo, hi = con.execute(
            "SELECT timezone($tz, CAST(CAST($a AS DATE) AS TIMESTAMP)) - INTERVAL 3 HOUR, "
            "timezone($tz, CAST(CAST($b AS DATE) + 1 AS TIMESTAMP)) + INTERVAL 3 HOUR",
            {"tz": tz, "a": min(days), "b": max(days)},
        ).fetchall()[0]
        params.update(days=days, lo=lo, hi=hi)
        mine += " AND list_contains($days, day)"
        raw_in = f"ts >= $lo AND ts < $hi AND list_contains($days, {_day()})"
    # the events of the days with what the rollup takes from them: a few days are read once, into a
    # temporary table for both inserts; every day streams through each
    select = (
        f"SELECT {_day()} AS day, ts, type, CASE WHEN type = 'enter_room' THEN user_id END AS user_id, "
        f"product_id IS NOT NULL AS product FROM events WHERE {raw_in}"
    )
    run = partial(_run, con, params=params)
    events = f"({select})"
    if days is not None:
        run(f"CREATE OR REPLACE TEMP TABLE _kpi_rollup_events AS {select}")
        events = "_kpi_rollup_events"
    run(f"DELETE FROM kpi_rollup_users WHERE {mine}")
    run(f"DELETE FROM kpi_rollup_days WHERE {mine}")
    run(
        "INSERT INTO kpi_rollup_users (tz, day, user_id, room_views, paid_orders, first_entry, last_entry, "
        "first_paid, last_paid) SELECT $tz, day, user_id, sum(v), sum(p), min(fe), max(le), min(fp), max(lp) "
        "FROM (SELECT day, user_id, count(*) AS v, 0 AS p, min(ts) AS fe, max(ts) AS le, "
        f"NULL::TIMESTAMPTZ AS fp, NULL::TIMESTAMPTZ AS lp FROM {events} e "
        "WHERE type = 'enter_room' GROUP BY ALL "
        f"UNION ALL SELECT {_day()} AS day, user_id, 0 AS v, count(*) AS p, NULL, NULL, min(ts), max(ts) "
        f"FROM orders WHERE {_PAID} AND {raw_in} GROUP BY ALL) GROUP BY day, user_id ORDER BY day"
    )
    run(
        f"""
        INSERT INTO kpi_rollup_days BY NAME
        WITH e AS (
            SELECT day, count(*) AS events_all,
                count(*) FILTER (WHERE type IN {_TYPES}) AS events,
                count(*) FILTER (WHERE type = 'enter_room') AS room_views,
                count(*) FILTER (WHERE type = 'impression') AS impressions,
                count(*) FILTER (WHERE type = 'click' AND product) AS product_clicks
            FROM {events} x GROUP BY 1
        ),
        o AS (
            SELECT {_day()} AS day, count(*) AS orders_rows, bit_xor({_FP}) AS orders_fp,
                sum(amount) FILTER (WHERE {_PAID}) AS gmv,
                count(*) FILTER (WHERE {_PAID}) AS orders,
                count(*) FILTER (WHERE status = 'refunded') AS refunded_orders,
                count(*) FILTER (WHERE {_PLACED}) AS placed_orders
            FROM orders WHERE {raw_in} GROUP BY 1
        ),
        u AS (
            SELECT day, count(*) FILTER (WHERE room_views > 0) AS viewers,
                count(*) FILTER (WHERE paid_orders > 0) AS buyers
            FROM kpi_rollup_users WHERE {mine} GROUP BY 1
        )
        SELECT $tz AS tz, day,
            coalesce(events_all, 0) AS events_all, coalesce(events, 0) AS events,
            coalesce(room_views, 0) AS room_views, coalesce(impressions, 0) AS impressions,
            coalesce(product_clicks, 0) AS product_clicks, coalesce(viewers, 0) AS viewers,
            coalesce(orders_rows, 0) AS orders_rows, coalesce(orders_fp, 0) AS orders_fp,
            coalesce(gmv, 0) AS gmv, coalesce(orders, 0) AS orders, coalesce(buyers, 0) AS buyers,
            coalesce(refunded_orders, 0) AS refunded_orders, coalesce(placed_orders, 0) AS placed_orders
        FROM e FULL JOIN o USING (day) LEFT JOIN u USING (day) ORDER BY day
        """
    )
    if days is not None:
        run("DROP TABLE _kpi_rollup_events")


def _ensure_fresh(con: duckdb.DuckDBPyConnection, tz: str, *, read_only: bool) -> tuple[_Raw, dict[str, Any]]:
    """Bring the rollup of ``tz`` up to date inside the caller's transaction; what was done."""
    raw = _raw(con)
    built = _built(con, tz)
    if _is_fresh(raw, built):
        return raw, {"refresh": "fresh", "days": 0}
    if read_only:
        raise _Stale
    days = _touched(con, tz, raw, built)
    _rebuild(con, tz, days)
    mode = "full" if days is None else "incremental"
    n = (
        len(days)
        if days is not None
        else int(con.execute("SELECT count(*) FROM kpi_rollup_days WHERE tz = ?", [tz]).fetchall()[0][0])
    )
    con.execute(
        "INSERT OR REPLACE INTO kpi_rollup_state (tz, events_ingested, refreshed_at, refresh, days_rebuilt) "
        "VALUES (?, ?, now(), ?, ?)",
        [tz, raw.events_ingested, mode, n],
    )
    return raw, {"refresh": mode, "days": n}


class _Stale(Exception):
    """The rollup is stale and the warehouse is read-only."""


def refresh(wh: Warehouse, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Bring the rollup of ``tz`` up to date now: ``{"refresh": fresh|incremental|full, "days", "seconds"}``
    (reads refresh it themselves; this is for after a large import, or a benchmark)."""
    started = clock.perf_counter()
    with wh.transaction() as con:
        _, done = _ensure_fresh(con, tz, read_only=wh.read_only)
    return {**done, "seconds": round(clock.perf_counter() - started, 3)}


# -- reading ---------------------------------------------------------------------------------------
#: A part day: its key ('all', or the day for the day grain), [lo, hi) in UTC, its local day, and how its
#: unique users are found: "after" (the day's users whose last entry or payment is at or after lo: the
#: part day runs to the day's end), "before" (first one before hi: it runs from the day's start), or "raw".
_Piece = tuple[str, datetime, datetime, date, str]


@dataclass(frozen=True)
class _Cell:
    """What one request reads: whole days from the rollup and part days from the raw tables (their counts)
    and from the rollup's first and last times per user (their unique users)."""

    index: int
    by_day: bool
    full: tuple[date, date] | None  # inclusive
    pieces: tuple[_Piece, ...]


def _cells(
    con: duckdb.DuckDBPyConnection, tz: str, requests: list[Request], newest: datetime | None
) -> list[_Cell] | None:
    """The whole days and part days of each request; None where a local midnight is not the first
    instant of its day (a zone that changes its clock at midnight, or skips a day): raw tables then."""
    params: dict[str, Any] = {"tz": tz}
    values = []
    for i, r in enumerate(requests):
        params[f"a{i}"] = r.start or datetime(1970, 1, 1).astimezone()
        params[f"b{i}"] = r.end or datetime(9999, 1, 1).astimezone()
        values.append(f"({i}, CAST($a{i} AS TIMESTAMPTZ), CAST($b{i} AS TIMESTAMPTZ))")
    one_us = "INTERVAL 1 MICROSECOND"
    rows = con.execute(
        f"""
        WITH q(i, a, b) AS (VALUES {", ".join(values)}),
        d AS (SELECT i, a, b, {_date("$tz", "a")} AS da, {_date("$tz", "b")} AS db FROM q),
        m AS (
            SELECT *, timezone($tz, CAST(da + 1 AS TIMESTAMP)) AS mh,
                timezone($tz, CAST(db AS TIMESTAMP)) AS mt
            FROM d
        )
        SELECT da, db, mh, mt, {_date("$tz", "mh")} = da + 1 AND {_date("$tz", f"mh - {one_us}")} = da
            AND {_date("$tz", "mt")} = db AND {_date("$tz", f"mt - {one_us}")} = db - 1
        FROM m ORDER BY i
        """,
        params,
    ).fetchall()
    cells = []
    for i, (r, (da, db, mh, mt, ok)) in enumerate(zip(requests, rows, strict=True)):
        if not ok:
            return None
        a, b = params[f"a{i}"], params[f"b{i}"]
        tail_full = newest is None or b > newest  # no data at or after the end: its day is whole
        pieces: tuple[_Piece, ...]
        full: tuple[date, date] | None = None
        if da == db:
            pieces = ((f"{da:%Y-%m-%d}", a, b, da, "after" if tail_full else "raw"),)
        else:
            last = db if tail_full else db - timedelta(days=1)
            full = (da + timedelta(days=1), last) if last > da else None
            pieces = ((f"{da:%Y-%m-%d}", a, min(b, mh), da, "after"),)
            if not tail_full:
                pieces += ((f"{db:%Y-%m-%d}", mt, b, db, "before"),)
        cells.append(_Cell(i, r.grain == "day", full, pieces))
    return cells


def _read(con: duckdb.DuckDBPyConnection, tz: str, cells: list[_Cell]) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {"tz": tz}
    adds, users = [], []
    ranges: dict[tuple[datetime, datetime], str] = {}  # each distinct part day is counted once
    raw_users = False
    for c in cells:
        key = "day" if c.by_day else "'all'"
        if c.full is not None:
            lo, hi = f"lo{c.index}", f"hi{c.index}"
            params[lo], params[hi] = (f"{d:%Y-%m-%d}" for d in c.full)
            span = f"FROM kpi_rollup_days WHERE tz = $tz AND day BETWEEN ${lo} AND ${hi}"
            # a whole day keeps its own unique counts; a platform window counts its users again
            uniq = "viewers, buyers" if c.by_day else "0 AS viewers, 0 AS buyers"
            adds.append(
                f"SELECT {c.index} AS i, {key} AS k, events, room_views, impressions, product_clicks, gmv, "
                f"orders, refunded_orders, placed_orders, {uniq} {span}"
            )
            if not c.by_day:
                users.append(
                    f"SELECT {c.index} AS i, 'all' AS k, user_id, room_views > 0 AS viewer, "
                    f"paid_orders > 0 AS buyer FROM kpi_rollup_users "
                    f"WHERE tz = $tz AND day BETWEEN ${lo} AND ${hi}"
                )
        for j, (day_key, lo_ts, hi_ts, day, mode) in enumerate(c.pieces):
            r = ranges.setdefault((lo_ts, hi_ts), f"r{len(ranges)}")
            p = f"p{c.index}_{j}"
            params.update({f"{r}lo": lo_ts, f"{r}hi": hi_ts, f"{p}k": day_key, f"{p}d": f"{day:%Y-%m-%d}"})
            k = f"${p}k" if c.by_day else "'all'"
            within = f"ts >= ${r}lo AND ts < ${r}hi"
            adds += [
                f"SELECT {c.index}, {k}, count(*), count(*) FILTER (WHERE enter), "
                "count(*) FILTER (WHERE imp), count(*) FILTER (WHERE pclick), 0::DECIMAL(38, 2), 0, 0, 0, 0, "
                f"0 FROM re WHERE {within}",
                f"SELECT {c.index}, {k}, 0, 0, 0, 0, CAST(coalesce(sum(amount) FILTER (WHERE paid), 0) "
                "AS DECIMAL(38, 2)), count(*) FILTER (WHERE paid), "
                f"count(*) FILTER (WHERE status = 'refunded'), count(*), 0, 0 FROM ro WHERE {within}",
            ]
            if mode == "raw":
                raw_users = True
                users += [
                    f"SELECT {c.index}, {k}, user_id, TRUE, FALSE FROM re WHERE enter AND {within}",
                    f"SELECT {c.index}, {k}, user_id, FALSE, TRUE FROM ro WHERE paid AND {within}",
                ]
            else:  # the part day's users from the rollup: exact, and no user id read from the events
                entry, paid, cmp, bound = (
                    ("last_entry", "last_paid", ">=", f"${r}lo")
                    if mode == "after"
                    else ("first_entry", "first_paid", "<", f"${r}hi")
                )
                users.append(
                    f"SELECT {c.index}, {k}, user_id, {entry} {cmp} {bound}, {paid} {cmp} {bound} "
                    f"FROM kpi_rollup_users WHERE tz = $tz AND day = ${p}d"
                )
    head = "WITH "
    if ranges:
        near = " OR ".join(f"(ts >= ${r}lo AND ts < ${r}hi)" for r in ranges.values())
        params["plo"] = min(lo for lo, _ in ranges)
        params["phi"] = max(hi for _, hi in ranges)
        who = "CASE WHEN type = 'enter_room' THEN user_id END" if raw_users else "NULL"
        # the part days' counts: only the columns they need from the events (a user id in a rare case)
        head += (
            "re AS MATERIALIZED (SELECT ts, type = 'enter_room' AS enter, type = 'impression' AS imp, "
            f"type = 'click' AND product_id IS NOT NULL AS pclick, {who} AS user_id "
            f"FROM events WHERE ts >= $plo AND ts < $phi AND ({near}) AND type IN {_TYPES}), "
            f"ro AS MATERIALIZED (SELECT ts, user_id, status, amount, {_PAID} AS paid FROM orders "
            f"WHERE ts >= $plo AND ts < $phi AND ({near}) AND {_PLACED}), "
        )
    if not adds:
        return []
    users_sql = (
        " UNION ALL ".join(users)
        if users
        else "SELECT NULL::INTEGER, NULL::VARCHAR, NULL::VARCHAR, NULL::BOOLEAN, NULL::BOOLEAN WHERE FALSE"
    )
    sql = f"""
    {head}
    a(i, k, events, room_views, impressions, product_clicks, gmv, orders, refunded_orders, placed_orders,
        viewers, buyers) AS ({" UNION ALL ".join(adds)}),
    am AS (
        SELECT i, k, sum(events) AS events, sum(room_views) AS room_views, sum(impressions) AS impressions,
            sum(product_clicks) AS product_clicks, sum(gmv) AS gmv, sum(orders) AS orders,
            sum(refunded_orders) AS refunded_orders, sum(placed_orders) AS placed_orders,
            sum(viewers) AS viewers, sum(buyers) AS buyers
        FROM a GROUP BY i, k
    ),
    u(i, k, user_id, viewer, buyer) AS ({users_sql}),
    um AS (
        SELECT i, k, count(DISTINCT user_id) FILTER (WHERE viewer) AS viewers,
            count(DISTINCT user_id) FILTER (WHERE buyer) AS buyers
        FROM u GROUP BY i, k
    )
    SELECT am.i, am.k, am.gmv, am.orders, am.buyers + coalesce(um.buyers, 0), am.refunded_orders,
        am.placed_orders, am.room_views, am.viewers + coalesce(um.viewers, 0), am.impressions,
        am.product_clicks, am.events
    FROM am LEFT JOIN um ON am.i = um.i AND am.k = um.k
    ORDER BY am.i, am.k
    """
    return _run(con, sql, params).fetchall()


def measures(
    wh: Warehouse, requests: list[Request], tz: str = "Asia/Shanghai"
) -> list[dict[str | None, dict[str, float]]] | None:
    """``kpis.measures`` of each request (platform or day grain, no filter) from the rollup, refreshed
    first where the raw tables changed; None when the rollup cannot be used (read-only and stale, a
    warehouse without the tables, a write conflict)."""
    for r in requests:
        if r.grain not in GRAINS:
            raise ValueError(f"the rollup answers the grains {GRAINS}, not {r.grain!r}")
        check_request([], r.grain, r.start, r.end)
    try:
        with wh.transaction() as con:  # the check, any rebuild and the read see one snapshot
            raw, _ = _ensure_fresh(con, tz, read_only=wh.read_only)
            cells = _cells(con, tz, requests, raw.newest)
            if cells is None:
                return None
            rows = _read(con, tz, cells)
    except (_Stale, duckdb.CatalogException, duckdb.TransactionException):
        return None  # read-only and stale, a warehouse without the rollup, a write conflict
    names = ("gmv", "orders", "buyers", "refunded_orders", "placed_orders", "room_views", "viewers",
             "impressions", "product_clicks")  # fmt: skip
    out: list[dict[str | None, dict[str, float]]] = [{} for _ in requests]
    for i, k, *values, events in rows:
        found = dict(zip(names, values, strict=True))
        if requests[i].grain == "day" and not (events or found["placed_orders"]):
            continue  # a day with neither a KPI event nor a placed order is no row of kpis.measures
        out[i][k] = {n: float(found.get(n) or 0) for n in _NAMES}
    for r, got in zip(requests, out, strict=True):
        if r.grain == "platform" and not got:
            got["all"] = dict.fromkeys(_NAMES, 0.0)
    return out


def compute(
    wh: Warehouse, metrics: list[str], requests: list[Request], tz: str = "Asia/Shanghai"
) -> list[list[dict[str, Any]]] | None:
    """The ``rows`` of ``kpis.compute(wh, metrics, r.grain, start=r.start, end=r.end, tz=tz)`` for each
    request, from the rollup; None when it cannot answer (then compute from the raw tables)."""
    for r in requests:
        check_request(metrics, r.grain, r.start, r.end)
    if not all(can_answer(metrics, r.grain) for r in requests):
        return None
    got = measures(wh, requests, tz)
    if got is None:
        return None
    return [
        [{"key": k, **{m: METRICS[m].value(v) for m in metrics}} for k, v in per_key.items()]
        for per_key in got
    ]
