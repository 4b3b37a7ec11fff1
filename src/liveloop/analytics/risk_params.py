"""What the risk detectors share: their thresholds, the scope of a scan, and the account signals.

An account is *new* when it signed up (``users.signup_ts``) at most ``new_hours`` before the act
looked at; without a sign-up time, when it was first seen that recently and the warehouse holds at
least ``history_days`` of data before the act. It is *thin* when, over all the data, it did at most
``thin_max_events`` shopping actions (views, clicks, carts, favourites, searches, purchases) and never
paid for an order; thinness is only judged when the warehouse spans ``history_days`` or more. A
*suspect* account is new or thin. Where neither can be judged (one evening of real danmaku, no sign-up
times) the signals are unknown and the detectors fall back on their rate and text rules alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

SHOP_TYPES = ("view", "click", "add_to_cart", "favorite", "search", "purchase")


@dataclass(frozen=True)
class RiskParams:
    """Every threshold of the detectors (docs/benchmarks/risk.md says which were tuned, and on what)."""

    # account signals
    new_hours: float = 24.0
    thin_max_events: int = 5
    history_days: float = 3.0
    # comment bursts: near-identical texts (bigram Jaccard) from many accounts within a window
    text_similarity: float = 0.6
    burst_seconds: int = 120
    burst_min_accounts: int = 6
    suspect_share: float = 0.5
    concentration: float = 0.8
    concentration_min_accounts: int = 10
    one_shot_share: float = 0.5
    # new-account comments per session (binomial against the median session's share)
    new_min_accounts: int = 5
    new_base_floor: float = 0.01
    # synchronised joins
    join_seconds: int = 10
    join_min_accounts: int = 8
    # like and gift spikes per minute
    like_min: int = 50
    like_k: float = 8.0
    gift_min_senders: int = 5
    alpha: float = 1e-6
    # linked accounts
    ring_min_accounts: int = 3
    co_order_seconds: int = 2
    co_order_min: int = 2
    link_max_accounts: int = 50
    # refund abuse
    refund_min_orders: int = 4
    refund_min_rate: float = 0.3
    refund_ratio: float = 3.0
    refund_alpha: float = 1e-3
    # KPI drops
    kpi_k: float = 3.0
    kpi_min_drop: float = 0.3
    kpi_seasons: int = 14
    kpi_min_seasons: int = 5

    @classmethod
    def of(cls, values: dict[str, Any] | None) -> RiskParams:
        """Defaults overridden by ``values`` (unknown names are a ValidationFailed, field ``params``)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(values or {}) - known)
        if bad:
            raise ValidationFailed(f"unknown risk parameter {bad[0]!r}", field="params")
        return cls(**(values or {}))


@dataclass(frozen=True)
class Scope:
    """Which acts a scan looks at: a time window (on each act's ``ts``) and optionally one session."""

    start: datetime | None = None
    end: datetime | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationFailed("the window's end must be after its start", field="end")

    def where(self, alias: str = "", session: bool = True) -> tuple[str, list[Any]]:
        """`` AND …`` conditions and their parameters for a table aliased ``alias``."""
        a = f"{alias}." if alias else ""
        conds: list[str] = []
        params: list[Any] = []
        if self.start is not None:
            conds.append(f"{a}ts >= ?")
            params.append(self.start)
        if self.end is not None:
            conds.append(f"{a}ts < ?")
            params.append(self.end)
        if session and self.session_id is not None:
            conds.append(f"{a}session_id = ?")
            params.append(self.session_id)
        return "".join(f" AND {c}" for c in conds), params


@dataclass(frozen=True)
class Env:
    """The warehouse's data span (epoch seconds of the first and last event or comment)."""

    data_start: float | None
    data_end: float | None

    @classmethod
    def of(cls, wh: Warehouse) -> Env:
        row = wh.sql(
            "SELECT min(t0), max(t1) FROM (SELECT epoch(min(ts)) t0, epoch(max(ts)) t1 FROM events "
            "UNION ALL SELECT epoch(min(ts)), epoch(max(ts)) FROM comments)"
        )[0]
        return cls(row[0], row[1])

    def history(self, p: RiskParams) -> bool:
        """Whether the data span long enough to judge an account by what it did elsewhere."""
        if self.data_start is None or self.data_end is None:
            return False
        return self.data_end - self.data_start >= p.history_days * 86400


def signals_sql(p: RiskParams, env: Env, refs: str) -> str:
    """CTEs ending in ``sig``: the rows of relation ``refs`` (with ``user_id`` and ``ts``) plus
    ``is_new`` and ``is_thin`` (NULL where they cannot be judged), ``suspect`` and ``known``."""
    hist = env.history(p)
    new_s = float(p.new_hours) * 3600
    since = (env.data_start or 0.0) + p.history_days * 86400
    seen_new = (
        f"WHEN epoch(r.ts) >= {since} THEN epoch(r.ts) - epoch(least(a.first_event, cm.first_comment)) "
        f"<= {new_s}"
        if hist
        else ""
    )
    thin = f"coalesce(a.shop, 0) <= {int(p.thin_max_events)} AND coalesce(pd.paid, 0) = 0" if hist else "NULL"
    shop = ", ".join(f"'{t}'" for t in SHOP_TYPES)
    return f"""
    sig_ids AS (SELECT DISTINCT user_id FROM {refs}),
    sig_act AS (
        SELECT e.user_id, min(e.ts) FILTER (WHERE e.type <> 'signup') AS first_event,
            count(*) FILTER (WHERE e.type IN ({shop})) AS shop
        FROM events e JOIN sig_ids USING (user_id) GROUP BY 1
    ),
    sig_cm AS (
        SELECT c.user_id, min(c.ts) AS first_comment FROM comments c JOIN sig_ids USING (user_id) GROUP BY 1
    ),
    sig_pd AS (
        SELECT o.user_id, count(*) AS paid FROM orders o JOIN sig_ids USING (user_id)
        WHERE {paid("o")} GROUP BY 1
    ),
    sig_raw AS (
        SELECT r.*,
            CASE WHEN u.signup_ts IS NOT NULL
                THEN epoch(r.ts) - epoch(u.signup_ts) BETWEEN -60 AND {new_s}
                {seen_new}
                ELSE NULL END AS is_new,
            CAST({thin} AS BOOLEAN) AS is_thin
        FROM {refs} r LEFT JOIN users u ON u.user_id = r.user_id
        LEFT JOIN sig_act a ON a.user_id = r.user_id LEFT JOIN sig_cm cm ON cm.user_id = r.user_id
        LEFT JOIN sig_pd pd ON pd.user_id = r.user_id
    ),
    sig AS (
        SELECT *, coalesce(is_new, FALSE) OR coalesce(is_thin, FALSE) AS suspect,
            is_new IS NOT NULL OR is_thin IS NOT NULL AS known
        FROM sig_raw
    )"""
