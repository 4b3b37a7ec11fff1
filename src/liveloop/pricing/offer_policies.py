"""Offer policies kept in the warehouse: a menu of published coupons for the lifecycle stages (published
segment rules), one offer per stage and round, learnt from what each round earned.

A round runs ``round_days`` days. :func:`next_round` first measures every round that has ended — per
stage: the members' product views (the exposures), what their paid orders earned in the round (profit:
paid amount − cost of the goods; or GMV: the paid amount) and the discount redeemed on the round's coupon —
feeds that to the policy's :class:`~liveloop.pricing.offers.OfferBandit`, then writes the next round's
offer per stage, each with an audit row. Everyone in a stage gets the stage's offer; issuing it is the
campaigns' job (``liveloop.campaigns.offer_rounds``). Users who switched personalisation off are no
stage's members: a stage is read from their profile.
"""

from __future__ import annotations

import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from liveloop.core.errors import Conflict, NotFound, ValidationFailed
from liveloop.pricing.offers import OfferBandit, guard_for
from liveloop.privacy.audit import AuditEntry, record
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

OBJECTIVES = ("profit", "gmv")
CONTROL = "no coupon"
MAX_OFFERS = 8
MAX_ROUNDS = 365
SUMMARY = ("policy_id", "name", "objective", "segments", "offer_names", "budget", "spent", "rounds",
           "rounds_measured", "status", "current")  # fmt: skip


def _stages(wh: Warehouse) -> list[str]:
    rows = wh.sql("SELECT DISTINCT lifecycle FROM profiles WHERE lifecycle IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows]


def _coupons(wh: Warehouse, coupon_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = wh.sql(
        "SELECT coupon_id, name, status, coalesce(props->>'$.kind', 'coupon'), "
        "coalesce(props->>'$.repeatable', 'false') = 'true', percent_off, amount::DOUBLE FROM coupons "
        "WHERE coupon_id IN (SELECT unnest(?::VARCHAR[]))",
        [coupon_ids],
    )
    keys = ("name", "status", "kind", "repeatable", "percent_off", "amount")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def _depth(wh: Warehouse, coupon: dict[str, Any]) -> float:
    """The share of a purchase a coupon takes off: its percentage, or its amount over the mean paid order
    (what the bandit prices an untried offer from)."""
    if coupon["percent_off"] is not None:
        return float(coupon["percent_off"]) / 100
    mean_order = wh.sql(f"SELECT avg(amount)::DOUBLE FROM orders WHERE {paid()}")[0][0] or 0.0
    return min(float(coupon["amount"] or 0.0) / mean_order, 1.0) if mean_order > 0 else 0.1


def create_policy(
    wh: Warehouse,
    name: str,
    coupon_ids: list[str],
    *,
    segments: list[str] | None = None,
    budget: float | None = None,
    rounds: int = 30,
    round_days: int = 1,
    objective: str = "profit",
    max_loss: float | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """A policy choosing among ``coupon_ids`` (and no coupon) for each lifecycle stage in ``segments``
    (default: every stage the profiles hold), within ``budget`` of redeemed discount over ``rounds``;
    ``max_loss`` (a share; default 0.01 for profit, no guard for GMV; 1: no guard) keeps the policy from
    falling further behind no coupon while it learns."""
    if not name.strip():
        raise ValidationFailed("a policy needs a name", field="name")
    ids = list(dict.fromkeys(coupon_ids))
    if not 1 <= len(ids) <= MAX_OFFERS:
        raise ValidationFailed(f"give between 1 and {MAX_OFFERS} coupons", field="coupons")
    found = _coupons(wh, ids)
    for cid in ids:
        if cid not in found:
            raise NotFound(f"coupon {cid!r} is unknown", field="coupons")
        if found[cid]["kind"] != "coupon" or found[cid]["status"] != "active":
            raise ValidationFailed(f"{cid} is not an active coupon", field="coupons")
        if not found[cid]["repeatable"]:
            raise ValidationFailed(
                f"{cid} is one per person ever: a policy's rounds need repeatable coupons (--repeatable)",
                field="coupons",
            )
    stages = _stages(wh)
    chosen = list(dict.fromkeys(segments)) if segments else stages
    unknown = [s for s in chosen if s not in stages]
    if not chosen or unknown:
        raise ValidationFailed(
            "segments are lifecycle stages the profiles hold "
            f"({', '.join(stages) or 'none: build profiles first'})",
            field="segments",
        )
    if objective not in OBJECTIVES:
        raise ValidationFailed(f"objective must be one of {', '.join(OBJECTIVES)}", field="objective")
    if not 2 <= rounds <= MAX_ROUNDS:
        raise ValidationFailed(f"rounds must be between 2 and {MAX_ROUNDS}", field="rounds")
    if not 1 <= round_days <= 30:
        raise ValidationFailed("round_days must be between 1 and 30", field="round_days")
    if budget is not None and not 0 < budget <= 1e12:
        raise ValidationFailed("budget must be a positive amount", field="budget")
    depth = (0.0, *(_depth(wh, found[c]) for c in ids))
    guard = guard_for(objective, max_loss)
    bandit = OfferBandit(len(chosen), len(ids) + 1, budget=budget, rounds=rounds, depth=depth, max_loss=guard)
    policy_id = f"offer_{uuid.uuid4().hex[:12]}"
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO offer_policies (policy_id, name, segments, offers, objective, budget, rounds, "
            "round_days, state, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [policy_id, name.strip(), json.dumps(chosen), json.dumps(ids), objective, budget, rounds,
             round_days, json.dumps(bandit.to_state()), actor],
        )  # fmt: skip
        record(
            wh,
            AuditEntry(
                actor, "offer.policy", policy_id, "created", f"{len(ids)} coupons × {len(chosen)} stages"
            ),
            con=con,
        )
    return get_policy(wh, policy_id)


def _policy(wh: Warehouse, policy_id: str) -> dict[str, Any]:
    rows = wh.sql(
        "SELECT policy_id, name, segments, offers, objective, budget::DOUBLE, rounds, round_days, status, "
        "state, created_by, created_at FROM offer_policies WHERE policy_id = ?",
        [policy_id],
    )
    if not rows:
        raise NotFound(f"offer policy {policy_id!r} is unknown", field="policy_id")
    keys = ("policy_id", "name", "segments", "offers", "objective", "budget", "rounds", "round_days",
            "status", "state", "created_by", "created_at")  # fmt: skip
    p = dict(zip(keys, rows[0], strict=True))
    for k in ("segments", "offers", "state"):
        p[k] = json.loads(p[k])
    return p


def _offer_names(wh: Warehouse, p: dict[str, Any]) -> list[str]:
    found = _coupons(wh, p["offers"])
    return [CONTROL, *(found.get(c, {}).get("name", c) for c in p["offers"])]


def _members_sql() -> str:
    return (
        "SELECT p.user_id FROM profiles p LEFT JOIN users u USING (user_id) "
        "WHERE p.lifecycle = ? AND NOT coalesce(u.non_personalised, false)"
    )


def segment_members(wh: Warehouse, policy_id: str, segment: str) -> list[str]:
    """The users a stage's offer goes to (profiles in that stage, personalisation not switched off)."""
    p = _policy(wh, policy_id)
    if segment not in p["segments"]:
        raise NotFound(f"{segment!r} is not a segment of {policy_id}", field="segment")
    return [r[0] for r in wh.sql(_members_sql() + " ORDER BY p.user_id", [segment])]


def _measure(
    wh: Warehouse, p: dict[str, Any], segment: str, coupon_id: str | None, start: Any, end: Any
) -> tuple[int, float, float]:
    """(exposures, value, coupon spend) of a stage's members in [start, end)."""
    members = f"SELECT user_id FROM ({_members_sql()})"
    views = wh.sql(
        f"SELECT count(*) FROM events WHERE type = 'view' AND ts >= ? AND ts < ? AND user_id IN ({members})",
        [start, end, segment],
    )[0][0]
    cost = "0" if p["objective"] == "gmv" else "coalesce(sum(i.quantity * coalesce(pr.cost, 0)), 0)"
    value = wh.sql(
        f"WITH o AS (SELECT order_id, amount FROM orders WHERE {paid()} AND ts >= ? AND ts < ? "
        f"AND user_id IN ({members})) "
        f"SELECT (SELECT coalesce(sum(amount), 0) FROM o)::DOUBLE - ({cost})::DOUBLE "
        "FROM order_items i JOIN o USING (order_id) LEFT JOIN products pr USING (product_id)",
        [start, end, segment],
    )[0][0]
    spend = 0.0
    if coupon_id is not None:
        spend = wh.sql(
            "SELECT coalesce(sum(discount), 0)::DOUBLE FROM coupon_grants WHERE coupon_id = ? "
            f"AND status = 'redeemed' AND redeemed_at >= ? AND redeemed_at < ? AND user_id IN ({members})",
            [coupon_id, start, end, segment],
        )[0][0]
    return int(views), float(value or 0.0), float(spend)


def _close_due(wh: Warehouse, p: dict[str, Any], now: datetime) -> OfferBandit:
    """Measure every ended, unmeasured round and feed it to the bandit (state saved)."""
    bandit = OfferBandit.from_state(p["state"])
    due = wh.sql(
        "SELECT round_no, segment, offer, coupon_id, starts_at, ends_at FROM offer_rounds "
        "WHERE policy_id = ? AND measured_at IS NULL AND ends_at <= ? ORDER BY round_no",
        [p["policy_id"], now],
    )
    by_round: dict[int, list[Any]] = {}
    for row in due:
        by_round.setdefault(row[0], []).append(row)
    for round_no, rows in by_round.items():
        n = len(p["segments"])
        choice, exp, value, spend = (np.zeros(n) for _ in range(4))
        measured = []
        for _, segment, offer, coupon_id, start, end in rows:
            s = p["segments"].index(segment)
            views, got, paid_out = _measure(wh, p, segment, coupon_id, start, end)
            choice[s], exp[s], value[s], spend[s] = offer, views, got, paid_out
            measured.append((views, got, paid_out, p["policy_id"], round_no, segment))
        bandit.update(choice.astype(int), exp, value, spend)
        with wh.transaction() as con:
            con.executemany(
                "UPDATE offer_rounds SET exposures = ?, value = ?, spend = ?, measured_at = now() "
                "WHERE policy_id = ? AND round_no = ? AND segment = ?",
                measured,
            )
            con.execute(
                "UPDATE offer_policies SET state = ? WHERE policy_id = ?",
                [json.dumps(bandit.to_state()), p["policy_id"]],
            )
    return bandit


def next_round(
    wh: Warehouse, policy_id: str, *, now: datetime | None = None, actor: str | None = None
) -> dict[str, Any]:
    """Close the rounds that have ended, then the current round's offer per stage (written and audited
    when new; the open round itself when one is still running)."""
    now = now or datetime.now(UTC)
    p = _policy(wh, policy_id)
    if p["status"] != "active":
        raise Conflict(f"offer policy {policy_id} is {p['status']}", field="policy_id")
    bandit = _close_due(wh, p, now)
    open_round = wh.sql(
        "SELECT max(round_no) FROM offer_rounds WHERE policy_id = ? AND ends_at > ?", [policy_id, now]
    )[0][0]
    if open_round is not None:
        return current_round(wh, policy_id)
    played = wh.sql("SELECT coalesce(max(round_no), 0) FROM offer_rounds WHERE policy_id = ?", [policy_id])[
        0
    ][0]
    if played >= p["rounds"]:
        raise Conflict(f"offer policy {policy_id} has run all its {p['rounds']} rounds", field="policy_id")
    round_no = int(played) + 1
    members = [len(segment_members(wh, policy_id, s)) for s in p["segments"]]
    bandit = OfferBandit.from_state(bandit.to_state(), seed=zlib.crc32(f"{policy_id}:{round_no}".encode()))
    choice = bandit.choose(np.asarray(members, dtype=float))
    names = _offer_names(wh, p)
    ends = now + timedelta(days=p["round_days"])
    with wh.transaction() as con:
        for s, segment in enumerate(p["segments"]):
            k = int(choice[s])
            coupon_id = None if k == 0 else p["offers"][k - 1]
            con.execute(
                "INSERT INTO offer_rounds (policy_id, round_no, segment, offer, coupon_id, starts_at, "
                "ends_at, members) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [policy_id, round_no, segment, k, coupon_id, now, ends, members[s]],
            )
            record(
                wh,
                AuditEntry(
                    actor,
                    "offer.choose",
                    f"{policy_id}:{segment}",
                    names[k],
                    _reason(bandit, s, k),
                    details={"round": round_no, "coupon_id": coupon_id, "members": members[s]},
                ),
                con=con,
            )
    return current_round(wh, policy_id)


def _reason(bandit: OfferBandit, s: int, k: int) -> str:
    """Why a stage got offer ``k``, for the audit row."""
    if k == 0 and bandit.n[s, 0] == 0:
        return "the stage's control comes first"
    if bandit.n[:, k].sum() == 0:
        return "a new offer, tried in the largest stage first"
    if bandit.n[s, k] == 0:
        return "Thompson draw from what the other stages saw, net of the budget's price"
    return "Thompson draw from its rounds and the other stages', net of the budget's price"


def current_round(wh: Warehouse, policy_id: str) -> dict[str, Any]:
    """The latest round: its window and each stage's offer."""
    p = _policy(wh, policy_id)
    names = _offer_names(wh, p)
    rows = wh.sql(
        "SELECT round_no, segment, offer, coupon_id, starts_at, ends_at, members FROM offer_rounds "
        "WHERE policy_id = ? AND round_no = (SELECT max(round_no) FROM offer_rounds WHERE policy_id = ?) "
        "ORDER BY segment",
        [policy_id, policy_id],
    )
    if not rows:
        return {"policy_id": policy_id, "round": None, "offers": []}
    return {
        "policy_id": policy_id,
        "round": rows[0][0],
        "starts_at": rows[0][4],
        "ends_at": rows[0][5],
        "offers": [{"segment": r[1], "offer": names[r[2]], "coupon_id": r[3], "members": r[6]} for r in rows],
    }


def get_policy(wh: Warehouse, policy_id: str) -> dict[str, Any]:
    """A policy with its menu, budget spent and, per stage and offer, the rounds and mean value and spend
    per exposure learnt so far."""
    p = _policy(wh, policy_id)
    bandit = OfferBandit.from_state(p["state"])
    mean, cost = bandit.means()
    names = _offer_names(wh, p)
    best = bandit.best()
    learnt = [
        {
            "segment": segment,
            "best": names[int(best[s])],
            "offers": [
                {
                    "offer": names[k],
                    "rounds": int(bandit.n[s, k]),
                    "value_per_exposure": None if bandit.n[s, k] == 0 else round(float(mean[s, k]), 4),
                    "spend_per_exposure": None if bandit.n[s, k] == 0 else round(float(cost[s, k]), 4),
                }
                for k in range(len(names))
            ],
        }
        for s, segment in enumerate(p["segments"])
    ]
    state = p.pop("state")
    return {
        **p,
        "offer_names": names,
        "rounds_measured": int(state["played"]),
        "spent": round(float(state["spent"]), 2),
        "budget_left": None if p["budget"] is None else round(p["budget"] - float(state["spent"]), 2),
        "learnt": learnt,
        "current": current_round(wh, policy_id),
    }


def list_policies(wh: Warehouse) -> list[dict[str, Any]]:
    """Every offer policy, newest first (without the per-offer detail)."""
    rows = wh.sql("SELECT policy_id FROM offer_policies ORDER BY created_at DESC LIMIT 200")
    out = []
    for (pid,) in rows:
        p = get_policy(wh, pid)
        out.append({k: p[k] for k in SUMMARY})
    return out
