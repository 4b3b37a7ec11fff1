"""Campaigns use the offers: each round of an offer policy (``liveloop.pricing.offer_policies``) gives
every member of a lifecycle stage the stage's coupon, through the coupons' published rules (eligibility,
budget, caps and their refusals apply as to any issue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from liveloop.campaigns import coupons
from liveloop.pricing import offer_policies
from liveloop.warehouse import Warehouse


def issue_round(
    wh: Warehouse, policy_id: str, *, actor: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Start the policy's next round when the last has ended (measuring it), and issue each stage's coupon
    to the stage's members; a round already issued is not issued twice."""
    current = offer_policies.next_round(wh, policy_id, now=now, actor=actor)
    source = f"offer:{policy_id}:{current['round']}"
    already = wh.sql("SELECT count(*) FROM coupon_grants WHERE source = ?", [source])[0][0]
    issued = []
    for offer in current["offers"]:
        row = {"segment": offer["segment"], "offer": offer["offer"], "issued": 0, "refused": {}}
        if offer["coupon_id"] is not None and not already:
            members = offer_policies.segment_members(wh, policy_id, offer["segment"])
            result = coupons.issue(wh, offer["coupon_id"], members, source=source, actor=actor, now=now)
            row["issued"], row["refused"] = result["issued"], result["refused_by_reason"]
        issued.append(row)
    return {**current, "issued": issued}


def demo_step(wh: Warehouse) -> dict[str, Any]:
    """The demo's offer policy: two repeatable coupons for every lifecycle stage, its first round issued,
    and the policies compared over 60 simulated days."""
    from decimal import Decimal

    from liveloop.pricing.offer_simulation import compare_offer_policies

    menu = [
        coupons.create(
            wh,
            coupons.CouponSpec(name=name, percent_off=Decimal(pct), valid_days=1, repeatable=True),
            actor="demo",
        )["coupon_id"]
        for name, pct in (("直播间95折券", 5), ("直播间9折券", 10))
    ]
    policy = offer_policies.create_policy(
        wh, "tonight's coupons", menu, budget=5_000, rounds=14, actor="demo"
    )
    first = issue_round(wh, policy["policy_id"], actor="demo")
    sim = compare_offer_policies(wh, rounds=60)
    share = sim["share_of_oracle"]
    return {
        "policy": policy["policy_id"],
        "round 1": ", ".join(f"{o['segment']}: {o['offer']}" for o in first["offers"]),
        "simulated 60 days (profit vs Oracle)": (
            f"bandit {share['bandit']:.1%}, best single offer {share['best single offer']:.1%}"
        ),
        "page": "/pricing#offers",
    }
