"""The copilot sees the session's prices and coupons: a lineup opened from the warehouse carries each
product's live-slot price (not its list price) and the session's published coupons for it, and a viewer's
price or coupon question is answered from them."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from liveloop.campaigns import coupons
from liveloop.content import default_checker
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.live import service
from liveloop.live.qa import DEFAULT_POLICIES, KnowledgeBase
from liveloop.warehouse import Warehouse


def test_the_lineup_carries_slot_prices_and_session_coupons(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=3, users=120, days=3)
    # a session with a coupon slot whose live price differs from the list price
    sid, props, start, end = next(
        (s, json.loads(p), a, b)
        for s, p, a, b in wh.sql("SELECT session_id, props, start_ts, end_ts FROM live_sessions ORDER BY 1")
        if any(json.loads(p)["slot_coupons"])
    )
    lineup, _ = service.lineup_from_warehouse(wh, sid)
    listed = dict(wh.sql("SELECT product_id, price::DOUBLE FROM products"))
    for slot, product in enumerate(lineup):
        assert product["price"] == props["slot_prices"][slot]  # the session's own price
        assert product["list_price"] == listed[product["product_id"]]
    k = next(i for i, c in enumerate(props["slot_coupons"]) if c > 0)
    couponed = lineup[k]
    assert [c["amount"] for c in couponed["coupons"]] == [props["slot_coupons"][k]]
    others = [p for i, p in enumerate(lineup) if props["slot_coupons"][i] == 0]
    assert all("coupons" not in p for p in others)  # a slot coupon is for its own product only
    # a coupon for everyone valid during the session reaches every product; one that ended before does not
    spec = coupons.CouponSpec(name="全场满199减20", amount=Decimal(20), min_spend=Decimal(199), ends_at=end)
    everyone = coupons.create(wh, spec, actor="t")["coupon_id"]
    old = coupons.CouponSpec(name="上周券", amount=Decimal(5), ends_at=start - timedelta(days=1))
    coupons.create(wh, old, actor="t")
    lineup, _ = service.lineup_from_warehouse(wh, sid)
    assert all(everyone in [c["coupon_id"] for c in p["coupons"]] for p in lineup)
    assert not any(c["name"] == "上周券" for p in lineup for c in p["coupons"])

    qa = KnowledgeBase(products=lineup, policies=DEFAULT_POLICIES).answerer(default_checker())
    pid = couponed["product_id"]
    price = qa.answer("这个多少钱", on_stage=pid)
    assert price.status == "answered", (price.reason, price.compliance)
    assert f"¥{couponed['price']:.2f}" in (price.answer or "")
    assert f"立减¥{props['slot_coupons'][k]:g}" in (price.answer or "")
    ask = qa.answer("有券吗", on_stage=pid)
    assert (
        ask.status == "answered"
        and "全场满199减20" in (ask.answer or "")
        and "满¥199可用" in (ask.answer or "")
    )
    # no product on stage: the shop's coupon policy takes the question
    assert qa.answer("有优惠券吗").entry_id == "policy:coupon"
    # the disclosed coupon passes the ad-law check only as a quoted published coupon, not as a bare claim
    assert ask.compliance and ask.compliance["verdict"] == "pass"
    assert default_checker().check("满199减20，快来买").verdict == "flag"
