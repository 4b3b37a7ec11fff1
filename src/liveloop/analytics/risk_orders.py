"""Abnormal orders: rings of linked accounts abusing coupons or placing orders in lockstep (羊毛党, 刷单),
and refund abuse.

Accounts are linked when they share an identifier the warehouse holds (``users.phone_index`` or
``email_index`` — keyed blind indexes, never the numbers — or a ``device_id``, ``address_hash``,
``payment_fp`` in ``users.props`` or ``events.props``), or when they ordered the same product within
``co_order_seconds`` of each other at least ``co_order_min`` times. An identifier shared by more than
``link_max_accounts`` accounts (a shop's Wi-Fi, an emulator's default id) links nobody.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from liveloop.analytics.risk_params import Env, RiskParams, Scope
from liveloop.analytics.risk_store import Finding, Member, registered
from liveloop.core.ids import stable_id
from liveloop.warehouse import Warehouse

#: Keys of ``props`` (users and events) that identify a device, an address or a means of payment.
LINK_KEYS = ("device_id", "address_hash", "payment_fp")
_PLACED = "status NOT IN ('cancelled', 'failed')"


def _identifier_sql() -> str:
    parts = [
        f"SELECT user_id, '{k}' AS kind, json_extract_string(props, '$.{k}') AS value FROM users "
        f"WHERE props IS NOT NULL"
        for k in LINK_KEYS
    ]
    parts += [
        f"SELECT user_id, '{k}' AS kind, json_extract_string(props, '$.{k}') AS value FROM events "
        f"WHERE props IS NOT NULL AND json_exists(props, '$.{k}')"
        for k in LINK_KEYS
    ]
    parts += [
        f"SELECT user_id, '{c}', {c} FROM users WHERE {c} IS NOT NULL" for c in ("phone_index", "email_index")
    ]
    return " UNION ALL ".join(parts)


class _Components:
    """Union-find over account ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return out


def _co_orders(wh: Warehouse, p: RiskParams, scope: Scope) -> list[tuple[str, str, int]]:
    """Pairs of accounts that ordered the same product within ``co_order_seconds``, and how often."""
    where, params = scope.where("o", session=False)
    s = max(int(p.co_order_seconds), 1)
    half = (
        "SELECT a.user_id AS ua, b.user_id AS ub, a.order_id AS oa FROM o a JOIN o b "
        "ON a.product_id = b.product_id AND b.bucket = a.bucket{shift} "
        f"WHERE a.user_id < b.user_id AND abs(b.t - a.t) <= {s}"
    )
    rows = wh.sql(
        f"""WITH o AS (
            SELECT o.order_id, o.user_id, epoch(o.ts) AS t, i.product_id,
                CAST(floor(epoch(o.ts) / {s}) AS BIGINT) AS bucket
            FROM orders o JOIN order_items i USING (order_id) WHERE o.{_PLACED}{where}
        ),
        pairs AS ({" UNION ALL ".join(half.format(shift=d) for d in ("", " + 1", " - 1"))})
        SELECT ua, ub, count(DISTINCT oa) FROM pairs
        GROUP BY 1, 2 HAVING count(DISTINCT oa) >= {int(p.co_order_min)}""",
        params,
    )
    return [(a, b, int(n)) for a, b, n in rows]


def linked_accounts(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Groups of ``ring_min_accounts`` or more linked accounts that redeemed one coupon twice or more
    between them (with at least as many coupon orders as accounts), or that are linked by orders in
    lockstep."""
    comps = _Components()
    shared: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for kind, _value, users in wh.sql(
        f"SELECT kind, value, list(DISTINCT user_id ORDER BY user_id) FROM ({_identifier_sql()}) "
        f"WHERE value IS NOT NULL GROUP BY 1, 2 HAVING count(DISTINCT user_id) BETWEEN 2 AND "
        f"{int(p.link_max_accounts)}"
    ):
        for u in users[1:]:
            comps.union(users[0], u)
        for u in users:
            shared[u].append((kind, len(users)))
    lockstep: dict[str, int] = defaultdict(int)
    for a, b, n in _co_orders(wh, p, scope):
        comps.union(a, b)
        lockstep[a] += n
        lockstep[b] += n
    groups = [sorted(g) for g in comps.groups().values() if len(g) >= p.ring_min_accounts]
    if not groups:
        return []
    table = pa.table(
        {
            "user_id": [u for g in groups for u in g],
            "ring": [i for i, g in enumerate(groups) for _ in g],
        }
    )
    where, params = scope.where("o", session=False)
    with registered(wh, "_risk_rings", table):
        orders = wh.sql(
            f"SELECT r.ring, o.user_id, o.order_id, o.ts, o.coupon_id, o.status, CAST(o.amount AS DOUBLE) "
            f"FROM _risk_rings r JOIN orders o ON o.user_id = r.user_id WHERE o.{_PLACED}{where} "
            "ORDER BY r.ring, o.ts, o.order_id",
            params,
        )
    by_ring: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in orders:
        by_ring[r[0]].append(r)
    out = []
    for i, members in enumerate(groups):
        rows = by_ring.get(i, [])
        finding = _ring_finding(members, rows, shared, lockstep, p)
        if finding is not None:
            out.append(finding)
    return out


def _ring_finding(
    accounts: list[str],
    orders: list[tuple[Any, ...]],
    shared: dict[str, list[tuple[str, int]]],
    lockstep: dict[str, int],
    p: RiskParams,
) -> Finding | None:
    coupon_orders = [r for r in orders if r[4] is not None]
    per_coupon: dict[str, set[str]] = defaultdict(set)
    for r in coupon_orders:
        per_coupon[r[4]].add(r[1])
    reused = {c: len(us) for c, us in per_coupon.items() if len(us) >= 2}
    in_lockstep = [u for u in accounts if lockstep.get(u)]
    coupon_abuse = bool(reused) and len(coupon_orders) >= len(accounts)
    lockstep_ring = len(in_lockstep) >= p.ring_min_accounts
    if not orders or not (coupon_abuse or lockstep_ring):
        return None
    kinds: dict[str, int] = defaultdict(int)
    for u in accounts:
        for kind, _n in shared.get(u, []):
            kinds[kind] += 1
    first = min(r[2] for r in orders)
    rule = []
    if coupon_abuse:
        rule.append(
            f"{len(accounts)} linked accounts placed {len(coupon_orders)} coupon orders; "
            f"{len(reused)} coupon(s) redeemed by two or more of them"
        )
    if lockstep_ring:
        rule.append(f"{len(in_lockstep)} accounts ordered the same products within {p.co_order_seconds} s")
    members = [Member(u, "account", u, None, _links(u, shared, lockstep)) for u in accounts]
    members += [
        Member(r[1], "order", r[2], r[3], f"{r[5]}, {r[6]:.2f}" + (f", coupon {r[4]}" if r[4] else ""))
        for r in orders
    ]
    refunded = sum(1 for r in orders if r[5] == "refunded")
    return Finding(
        kind="linked_accounts",
        subject_type="ring",
        subject=stable_id("ring", first),
        score=round(len(accounts) * (len(coupon_orders) + sum(lockstep.get(u, 0) for u in accounts)) / 10, 2),
        evidence={
            "rule": "; ".join(rule),
            "accounts": len(accounts),
            "orders": len(orders),
            "coupon_orders": len(coupon_orders),
            "coupons_shared": len(reused),
            "max_accounts_on_one_coupon": max(reused.values(), default=1),
            "accounts_in_lockstep": len(in_lockstep),
            "shared_identifiers": dict(sorted(kinds.items())),
            "refunded_orders": refunded,
            "amount": round(float(sum(r[6] or 0.0 for r in orders)), 2),
        },
        members=members,
    )


def _links(u: str, shared: dict[str, list[tuple[str, int]]], lockstep: dict[str, int]) -> str:
    parts = [f"shares {kind} with {n - 1}" for kind, n in shared.get(u, [])]
    if lockstep.get(u):
        parts.append(f"{lockstep[u]} lockstep orders")
    return "; ".join(parts) or "linked"


def refund_abuse(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Users with ``refund_min_orders`` or more orders whose refunds are improbable under the base refund
    rate of the categories they bought (binomial tail below ``refund_alpha``), at a rate of at least
    ``refund_min_rate`` and ``refund_ratio`` times that base. The base rates leave out the users who
    pass the rate rule themselves, so a crowd of abusers cannot raise the bar."""
    where, params = scope.where("o", session=False)
    rows = wh.sql(
        f"""WITH o AS (
            SELECT o.order_id, o.user_id, o.ts, o.status = 'refunded' AS refunded,
                coalesce(pr.category, '') AS category
            FROM orders o
            LEFT JOIN (
                SELECT order_id, arg_min(product_id, line_no) AS product_id FROM order_items GROUP BY 1
            ) i USING (order_id)
            LEFT JOIN products pr USING (product_id)
            WHERE o.{_PLACED}{where}
        ),
        heavy AS (
            SELECT user_id FROM o GROUP BY 1 HAVING count(*) >= {int(p.refund_min_orders)}
                AND avg(CAST(refunded AS DOUBLE)) >= {float(p.refund_min_rate)}
        ),
        base AS (
            SELECT category, coalesce(avg(CAST(refunded AS DOUBLE)) FILTER (WHERE user_id NOT IN (
                SELECT user_id FROM heavy)), avg(CAST(refunded AS DOUBLE))) AS rate
            FROM o GROUP BY 1
        ),
        u AS (
            SELECT o.user_id, count(*) AS n, count(*) FILTER (WHERE refunded) AS r, avg(base.rate) AS p
            FROM o JOIN base USING (category) GROUP BY 1
            HAVING count(*) >= {int(p.refund_min_orders)}
        )
        SELECT user_id, n, r, p FROM u
        WHERE r >= {float(p.refund_min_rate)} * n AND r >= {float(p.refund_ratio)} * p * n
        ORDER BY user_id""",
        params,
    )
    hits = []
    for user_id, n, r, base in rows:
        pv = float(stats.binom.sf(int(r) - 1, int(n), max(float(base), 1e-3)))
        if pv < p.refund_alpha:
            hits.append((user_id, int(n), int(r), float(base), pv))
    if not hits:
        return []
    with registered(wh, "_risk_users", pa.table({"user_id": [h[0] for h in hits]})):
        orders = wh.sql(
            f"SELECT o.user_id, o.order_id, o.ts, o.status, CAST(o.amount AS DOUBLE) FROM orders o "
            f"JOIN _risk_users USING (user_id) WHERE o.{_PLACED}{where} ORDER BY o.ts, o.order_id",
            params,
        )
    per_user: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in orders:
        per_user[r[0]].append(r)
    out = []
    for user_id, n, r, base, pv in hits:
        rs = per_user.get(user_id, [])
        out.append(
            Finding(
                kind="refund_abuse",
                subject_type="user",
                subject=user_id,
                user_id=user_id,
                score=round(min(-np.log10(max(pv, 1e-300)), 300.0), 2),
                evidence={
                    "rule": f"{r} of {n} orders refunded ({100 * r / n:.0f}%); the base rate of what was "
                    f"bought is {100 * base:.1f}%",
                    "orders": n,
                    "refunded": r,
                    "rate": round(r / n, 4),
                    "base_rate": round(base, 4),
                    "p_value": pv,
                },
                members=[Member(user_id, "account", user_id, None, "refunds")]
                + [Member(o[0], "order", o[1], o[2], f"{o[3]}, {o[4]:.2f}") for o in rs],
            )
        )
    return out
