"""Funnels over any sequence of event types, with a conversion window, a mode and a breakdown.

- ``ordered``: each step at or after the previous one, other events allowed between, all within the window
  from the first step; a user counts once, by the chain that got furthest (the first to get there, started
  by the latest first step its window allows), with that chain's breakdown value and times.
- ``strict``: as ordered, but the user's very next event after a step must be the next step (events of the
  same instant count as one moment: any of them may be the next step).
- ``any``: the steps in any order within the window: a user reaches step *k* when *k* distinct steps fall in
  one window.

Besides the event types, four derived steps: ``stay_30s`` (a live-room visit that lasted 30 seconds, at
its 30th second), ``visit`` (any view, page, search or room entry), ``first_purchase`` (the user's first
purchase ever) and ``repurchase`` (any later one). Presets: ``live`` (impression → entered the room →
stayed 30 s → product click → cart → paid) and ``lifecycle`` (visit → sign-up → first purchase →
repurchase). Everything runs in DuckDB: windowFunnel's levels as hash joins over window-wide time buckets
(ordered), an ASOF join per step (strict) or one window aggregate (any), so a funnel over tens of millions
of events needs no Python loop and no sort of the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.core.types import EventType
from liveloop.warehouse import TableSource

MODES = ("ordered", "strict", "any")
DERIVED = ("stay_30s", "visit", "first_purchase", "repurchase")
BREAKDOWNS = ("channel", "host", "category", "segment")
PRESETS: dict[str, tuple[str, ...]] = {
    "live": ("impression", "enter_room", "stay_30s", "click", "add_to_cart", "purchase"),
    "lifecycle": ("visit", "signup", "first_purchase", "repurchase"),
}
MAX_STEPS = 10
MAX_WINDOW_S = 90 * 86400
_VISIT = ("view", "page", "search", "enter_room")
ALL = "\x00all"  # the key of the figures over every breakdown value


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[str, ...]
    window_s: int = 86400
    mode: str = "ordered"
    breakdown: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(
        cls, steps: str | list[str] | tuple[str, ...] | None, preset: str | None, **kwargs: Any
    ) -> FunnelSpec:
        """Steps (a list, or text with commas) or a preset's name — exactly one of them."""
        if bool(steps) == bool(preset):
            raise ValidationFailed("give the steps or a preset, not both or neither", field="steps")
        if preset:
            return cls.preset(preset, **kwargs)
        items = steps.split(",") if isinstance(steps, str) else list(steps or ())
        return cls(tuple(s.strip() for s in items if s.strip()), **kwargs)

    @classmethod
    def preset(cls, name: str, **kwargs: Any) -> FunnelSpec:
        if name not in PRESETS:
            raise ValidationFailed(f"unknown funnel {name!r}; presets: {', '.join(PRESETS)}", field="preset")
        return cls(PRESETS[name], **kwargs)

    def check(self) -> None:
        if len(self.steps) < 2:
            raise ValidationFailed("a funnel needs at least two steps", field="steps")
        if len(self.steps) > MAX_STEPS:
            raise ValidationFailed(f"a funnel has at most {MAX_STEPS} steps", field="steps")
        known = {e.value for e in EventType} | set(DERIVED)
        for i, step in enumerate(self.steps):
            if step not in known:
                raise ValidationFailed(
                    f"step {i + 1}: unknown event type {step!r}; known: {', '.join(sorted(known))}",
                    field=f"steps[{i}]",
                )
        if self.mode == "strict" and set(self.steps) & set(DERIVED):
            raise ValidationFailed(
                "a strict funnel takes event types only (a derived step is not an event)", field="mode"
            )
        if len(set(self.steps)) != len(self.steps) and self.mode == "any":
            raise ValidationFailed("an any-order funnel cannot repeat a step", field="steps")
        if self.mode not in MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(MODES)}", field="mode")
        if (
            isinstance(self.window_s, bool)
            or not isinstance(self.window_s, int)
            or not 0 < self.window_s <= MAX_WINDOW_S
        ):
            raise ValidationFailed(
                f"the window must be 1 second to {MAX_WINDOW_S // 86400} days", field="window_s"
            )
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise ValidationFailed(f"breakdown must be one of {', '.join(BREAKDOWNS)}", field="breakdown")
        if self.start and self.end and self.end <= self.start:
            raise ValidationFailed("the window's end must be after its start", field="end")


def _step_rows(
    spec: FunnelSpec, steps: tuple[str, ...] | None = None, breakdown: bool = True
) -> tuple[str, list[Any]]:
    """One SQL relation (user_id, ts, step, b) of every event that is one of ``steps`` (the funnel's by
    default); ``b`` is the breakdown value of that event (NULL without ``breakdown``)."""
    steps = steps or spec.steps
    lo = spec.start or datetime(1970, 1, 1).astimezone()
    hi = spec.end or datetime(9999, 1, 1).astimezone()
    b = (
        "NULL"
        if not breakdown
        else {
            None: "NULL",
            "channel": "e.channel",
            "host": "(SELECT host_id FROM live_sessions s WHERE s.session_id = e.session_id)",
            "category": "coalesce(e.category, (SELECT category FROM products p WHERE p.product_id = "
            "e.product_id))",
            "segment": "(SELECT segment_id FROM profiles p WHERE p.user_id = e.user_id)",
        }[spec.breakdown]
    )
    parts, params = [], []
    plain = [s for s in steps if s not in DERIVED]
    base = (
        f"SELECT e.user_id, e.ts, e.type, e.session_id, {b} AS b FROM events e WHERE e.ts >= ? AND e.ts < ?"
    )
    if plain:
        # checked event types, as literals: DuckDB filters the scan by a constant list
        parts.append(
            f"SELECT user_id, ts, type AS step, b FROM ({base}) WHERE type IN "
            f"({', '.join(repr(EventType(t).value) for t in plain)})"
        )
        params += [lo, hi]
    if "visit" in steps:
        parts.append(f"SELECT user_id, ts, 'visit' AS step, b FROM ({base}) WHERE type IN {_VISIT}")
        params += [lo, hi]
    if "stay_30s" in steps:
        parts.append(
            f"SELECT a.user_id, a.ts + INTERVAL 30 SECOND AS ts, 'stay_30s' AS step, a.b FROM "
            f"(SELECT *, row_number() OVER (PARTITION BY user_id, session_id ORDER BY ts) AS n FROM ({base}) "
            f"WHERE type = 'enter_room') a JOIN "
            "(SELECT user_id, session_id, ts, row_number() OVER (PARTITION BY user_id, session_id "
            "ORDER BY ts) AS n "
            "FROM events WHERE type = 'leave_room') l ON a.user_id = l.user_id AND a.session_id = "
            "l.session_id "
            f"AND a.n = l.n WHERE l.ts >= a.ts + INTERVAL 30 SECOND"
        )
        params += [lo, hi]
    if "first_purchase" in steps or "repurchase" in steps:
        # purchases ranked over the user's whole history, then kept inside the window
        parts.append(
            "SELECT user_id, ts, CASE WHEN r = 1 THEN 'first_purchase' ELSE 'repurchase' END AS "
            "step, b FROM "
            f"(SELECT e.user_id, e.ts, {b} AS b, row_number() OVER (PARTITION BY e.user_id ORDER BY "
            "e.ts) AS r "
            f"FROM events e WHERE e.type = 'purchase') WHERE ts >= ? AND ts < ?"
        )
        params += [lo, hi]
    return " UNION ALL ".join(parts), params


def _levels_sql(spec: FunnelSpec) -> tuple[str, list[Any]]:
    """``best`` (ordered mode): per user, the furthest level any chain reached, its breakdown value and the
    seconds between its steps (``d1`` … ``d{n-1}``, NULL past the level reached).

    The windowFunnel algorithm, in joins: a level-*k* record is a step-*k* event with the chain it
    continues — of the level-(*k*-1) records at or before it (strictly before for a repeated step), the one
    with the latest start still inside the window (a later start leaves the most room for what follows, so
    the furthest level is exact). Such a record lies within one window before the event: records are
    bucketed by window, and each event looks in its own bucket and the one before — hash joins and hash
    aggregates, no sort of the events. A user's chain is the first to reach their furthest level.
    """
    n = len(spec.steps)
    w = spec.window_s * 1_000_000
    # the first step's events (with their breakdown value) apart from the later steps' (without): the
    # first step is often the most common event, and only its events carry the breakdown
    later, later_params = _step_rows(spec, tuple(dict.fromkeys(spec.steps[1:])), breakdown=False)
    first, first_params = _step_rows(spec, spec.steps[:1])
    ctes = [
        f"ev AS ({later})",
        "e AS (SELECT user_id AS u, epoch_us(ts) AS t, step FROM ev)",
        # level 0 is the step's events themselves (start = t0 = t)
        f"r0 AS (SELECT user_id AS u, epoch_us(ts) AS t, b, fdiv(epoch_us(ts), {w})::BIGINT AS bk "
        f"FROM ({first}) WHERE step = $s0)",
    ]
    for k in range(1, n):
        before = "<" if spec.steps[k] == spec.steps[k - 1] else "<="
        # each step-k event looks in its own bucket and the one before
        step_k = (
            f"(SELECT u, t, fdiv(t, {w})::BIGINT - d AS bk FROM e, (VALUES (0), (1)) AS o(d) "
            f"WHERE step = $s{k})"
        )
        if k == 1:  # a level-0 record is an event: its start and t0 are its time
            ctes.append(
                f"r1 AS (SELECT u, t, c.st AS st, c.b AS b, c.st AS t0, t AS t1, fdiv(t, {w})::BIGINT AS bk "
                f"FROM (SELECT a.u, a.t, max({{'st': p.t, 'b': p.b}}) AS c FROM {step_k} a JOIN r0 p "
                f"ON p.u = a.u AND p.bk = a.bk AND p.t {before} a.t AND a.t - p.t <= {w} GROUP BY a.u, a.t))"
            )
            continue
        # the latest start; among chains with the same start, the one with the latest steps (then the
        # highest breakdown value): the whole record is the key, so every engine and run picks the same
        chain = ", ".join([*(f"'t{j}': p.t{j}" for j in range(k)), f"'t{k}': a.t"])
        ctes.append(
            f"r{k} AS (SELECT u, t, c.st AS st, c.b AS b, "
            + ", ".join(f"c.t{j} AS t{j}" for j in range(k + 1))
            + f", fdiv(t, {w})::BIGINT AS bk FROM (SELECT a.u, a.t, max({{'st': p.st, {chain}, 'b': p.b}}) "
            f"AS c FROM {step_k} a JOIN r{k - 1} p ON p.u = a.u AND p.bk = a.bk "
            f"AND p.t {before} a.t AND a.t - p.st <= {w} GROUP BY a.u, a.t))"
        )
    # a user's chain: the first to reach their furthest level (from level 1; below it, the first event)
    records = " UNION ALL ".join(
        f"SELECT u, {k} AS k, t, st, b, "
        + ", ".join(f"t{j}" if j <= k else f"NULL::BIGINT AS t{j}" for j in range(n))
        + f" FROM r{k}"
        for k in range(1, n)
    )
    gaps = ", ".join(f"(c.t{k} - c.t{k - 1}) / 1e6 AS d{k}" for k in range(1, n))
    return (
        "WITH " + ", ".join(ctes) + f", records AS ({records}), "
        "chosen AS (SELECT u, max({'k': k, 't': -t, 'st': st, "
        + ", ".join(f"'t{k}': t{k}" for k in range(n))
        + ", 'b': b}) AS c FROM records GROUP BY u), "
        "starts AS (SELECT u, min({'t': t, 'b': b}).b AS b FROM r0 GROUP BY u), "
        # a chain's breakdown value may be NULL itself: the first event's only when there is no chain
        "best AS (SELECT s.u AS user_id, CASE WHEN c IS NULL THEN s.b ELSE c.b END AS b, "
        "coalesce(c.k + 1, 1) AS depth, "
        f"{gaps} FROM starts s LEFT JOIN chosen USING (u)) "
    ), [*later_params, *first_params]


def _strict_sql(spec: FunnelSpec, rows: str) -> str:
    """``best`` (strict mode): per start attempt, the time of each later step (ASOF: the first one at or
    after the previous); per user the attempt that got furthest (the earliest such), with ``d1`` …"""
    n = len(spec.steps)
    ctes = [f"ev AS ({rows})", "s0 AS (SELECT user_id, ts AS t0, b, ts AS t FROM ev WHERE step = $s0)"]
    select_t = ["s0.t0 AS t0"]
    for k in range(1, n):
        prev = f"s{k - 1}"
        # the user's very next event (of any type) after the previous step must be this step (events at
        # the same instant count together: any of them may be it)
        ctes.append(
            f"s{k} AS (SELECT p.user_id, p.t0, p.b, CASE WHEN list_contains(nx.types, $s{k}) "
            f"AND nx.ts <= p.t0 + $w THEN nx.ts END AS t FROM {prev} p ASOF LEFT JOIN "
            f"(SELECT user_id, ts, list(type) AS types FROM events WHERE ts >= $lo AND ts < $hi "
            f"GROUP BY user_id, ts) nx ON p.user_id = nx.user_id AND nx.ts > p.t WHERE p.t IS NOT NULL)"
        )
    joins = " ".join(f"LEFT JOIN s{k} USING (user_id, t0)" for k in range(1, n))
    select_t += [f"s{k}.t AS t{k}" for k in range(1, n)]
    depth = " + ".join(f"(t{k} IS NOT NULL)::INT" for k in range(1, n))
    gaps = ", ".join(f"epoch(t{k} - t{k - 1}) AS d{k}" for k in range(1, n))
    return (
        "WITH "
        + ", ".join(ctes)
        + ", attempts AS (SELECT s0.user_id, s0.b, "
        + ", ".join(select_t)
        + f" FROM s0 {joins}), "
        f"scored AS (SELECT *, 1 + {depth} AS depth FROM attempts), "
        f"best AS (SELECT user_id, b, depth, {gaps} FROM scored QUALIFY row_number() OVER (PARTITION BY "
        "user_id ORDER BY depth DESC, t0, b NULLS LAST) = 1) "
    )


def run(wh: TableSource, spec: FunnelSpec) -> dict[str, Any]:
    """Users reaching each step (per breakdown value), conversion from the previous and the first step,
    and the time to convert from the previous step (median, quartiles, 90th percentile, in seconds)."""
    spec.check()
    named = {f"s{k}": step for k, step in enumerate(spec.steps)} | {"w": f"{spec.window_s} seconds"}
    lo = (spec.start or datetime(1970, 1, 1).astimezone()).isoformat()
    hi = (spec.end or datetime(9999, 1, 1).astimezone()).isoformat()
    named |= {"lo": lo, "hi": hi}
    if spec.mode == "ordered":
        best, params = _levels_sql(spec)
        return _counted_with_times(wh, spec, best, named, params)
    rows, params = _step_rows(spec)
    if spec.mode == "any":
        bits = " ".join(f"WHEN '{s}' THEN {1 << k}" for k, s in enumerate(spec.steps))
        sql = (
            f"WITH ev AS ({rows}), masked AS (SELECT user_id, b, ts, bit_or(CASE step {bits} END) OVER ("
            f"PARTITION BY user_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND INTERVAL {spec.window_s} SECOND "
            f"FOLLOWING) AS m FROM ev), best AS (SELECT user_id, b, bit_count(m) AS depth FROM masked "
            "QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY bit_count(m) DESC, ts, b NULLS LAST) "
            "= 1) "
            f"SELECT b, depth, count(*) FROM best GROUP BY ALL"
        )
        return _result(spec, wh.sql(_bind(sql, named), params), {})
    return _counted_with_times(wh, spec, _strict_sql(spec, rows), named, params)


def _counted_with_times(
    wh: TableSource, spec: FunnelSpec, best: str, named: dict[str, str], params: list[Any]
) -> dict[str, Any]:
    """From a ``best`` CTE (user, breakdown value, depth, seconds between steps): the funnel's result."""
    n = len(spec.steps)
    quantiles = ", ".join(f"quantile_cont(d{k}, [0.25, 0.5, 0.75, 0.9])" for k in range(1, n))
    # one pass: users per (breakdown value, depth); the times per breakdown value and over everyone
    sql = (
        best + f"SELECT grouping(b, depth), b, depth, count(*), {quantiles} FROM best "
        "GROUP BY GROUPING SETS ((b, depth), (b), ())"
    )
    counted, times = [], {}
    for row in wh.sql(_bind(sql, named), params):
        level, b, depth = row[:3]
        if level == 0:
            counted.append((b, depth, row[3]))
        elif (level == 1 and spec.breakdown) or level == 3:
            for k in range(1, n):
                times[(b if level == 1 else ALL, k)] = list(row[3 + k] or [])
    return _result(spec, counted, times)


def _bind(sql: str, named: dict[str, str]) -> str:
    """Inline the step names and the window (checked values: event types and an integer)."""
    for key in sorted(named, key=len, reverse=True):
        value = named[key]
        if key == "w":
            literal = f"INTERVAL {value.split()[0]} SECOND"
        elif key in ("lo", "hi"):
            literal = f"'{value}'::TIMESTAMPTZ"
        else:
            literal = f"'{value}'"
        sql = sql.replace(f"${key}", literal)
    return sql


def _result(
    spec: FunnelSpec, counted: list[tuple[Any, ...]], times: dict[tuple[Any, int], list[float]]
) -> dict[str, Any]:
    groups: dict[Any, list[int]] = {}
    n = len(spec.steps)
    for b, depth, users in counted:
        reach = groups.setdefault(b, [0] * n)
        for k in range(int(depth)):
            reach[k] += int(users)
    total = [sum(g[k] for g in groups.values()) for k in range(n)]
    out_groups = []
    for b, reach in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0] is None, str(kv[0]))):
        out_groups.append(
            {"breakdown": b, "steps": _steps(spec, reach, {k: times.get((b, k)) for k in range(1, n)})}
        )
    overall_times: dict[int, list[float] | None] = {k: times.get((ALL, k)) for k in range(1, n)}
    return {
        "steps": _steps(spec, total, overall_times),
        "mode": spec.mode,
        "window_s": spec.window_s,
        "breakdown": spec.breakdown,
        "groups": out_groups if spec.breakdown else [],
    }


def _steps(spec: FunnelSpec, reach: list[int], times: dict[int, list[float] | None]) -> list[dict[str, Any]]:
    out = []
    for k, step in enumerate(spec.steps):
        q = times.get(k) if k else None
        out.append(
            {
                "step": step,
                "users": reach[k],
                "from_previous": round(reach[k] / reach[k - 1], 4)
                if k and reach[k - 1]
                else (1.0 if k == 0 and reach[0] else None),
                "from_first": round(reach[k] / reach[0], 4) if reach[0] else None,
                "drop_off": reach[k - 1] - reach[k] if k else 0,
                "time_to_convert_s": (
                    {"p25": q[0], "median": q[1], "p75": q[2], "p90": q[3]}
                    if q and len(q) == 4 and q[1] is not None
                    else None
                ),
            }
        )
    return out


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A funnel's result as flat rows (one per breakdown value and step, ``all`` first), for export."""
    groups = [{"breakdown": "all", "steps": result["steps"]}, *result["groups"]]
    out = []
    for g in groups:
        for s in g["steps"]:
            t = s["time_to_convert_s"] or {}
            out.append(
                {
                    "breakdown": g["breakdown"],
                    "step": s["step"],
                    "users": s["users"],
                    "from_previous": s["from_previous"],
                    "from_first": s["from_first"],
                    "drop_off": s["drop_off"],
                    "median_time_to_convert_s": t.get("median"),
                }
            )
    return out
