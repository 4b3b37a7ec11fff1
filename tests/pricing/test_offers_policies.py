"""Offer policies on a simulated month with profiles: a round gives every member of a lifecycle stage the
same coupon (and none to a user who switched personalisation off), an ended round is measured from the
warehouse (views, paid orders, redeemed discounts), repeatable coupons come back each round; the simulated
offer stream agrees with the Oracle; the policies' comparison keeps the bandit within its budget."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from liveloop.campaigns import coupons
from liveloop.campaigns.offer_rounds import issue_round
from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
from liveloop.datasets.simulator.offers import Offer, offer_round
from liveloop.pricing import offer_policies
from liveloop.pricing.offer_simulation import _segments, compare_offer_policies
from liveloop.profiles.build import build_profiles
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def built_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated month with profiles, made once; each test gets a copy of its home."""
    settings = Settings(home=tmp_path_factory.mktemp("offers") / "home")
    with Warehouse.open(settings) as wh:
        simulate_into_warehouse(wh, scale="small", seed=9, users=400, days=28)
        build_profiles(wh, settings=settings)
    return settings.home


@pytest.fixture
def month(settings: Settings, built_month: Path) -> Iterator[Warehouse]:
    shutil.copytree(built_month, settings.home, dirs_exist_ok=True)
    wh = Warehouse.open(settings)
    yield wh
    wh.close()


def _coupon(wh: Warehouse, pct: int, *, repeatable: bool = True) -> str:
    spec = coupons.CouponSpec(
        name=f"{pct}% off", percent_off=Decimal(pct), valid_days=1, repeatable=repeatable
    )
    return str(coupons.create(wh, spec, actor="t")["coupon_id"])


def test_a_round_gives_a_stage_one_offer_and_is_measured_when_it_ends(month: Warehouse) -> None:
    wh = month
    menu = [_coupon(wh, 5), _coupon(wh, 10)]
    opted_out = wh.sql("SELECT user_id FROM profiles WHERE lifecycle IS NOT NULL ORDER BY user_id LIMIT 1")[
        0
    ][0]
    wh.sql("UPDATE users SET non_personalised = true WHERE user_id = ?", [opted_out])
    # no guard (max_loss 1): the default guard holds coupons back until no-coupon rounds earn their slack
    policy = offer_policies.create_policy(wh, "test", menu, budget=1000.0, rounds=5, max_loss=1.0)
    stages = policy["segments"]
    assert stages and policy["offer_names"] == ["no coupon", "5% off", "10% off"]
    start = wh.sql("SELECT min(ts) FROM events")[0][0] + timedelta(days=3)
    first = issue_round(wh, policy["policy_id"], actor="t", now=start)
    assert [o["offer"] for o in first["offers"]] == ["no coupon"] * len(stages)  # untried: cheapest first
    assert wh.sql("SELECT count(*) FROM coupon_grants")[0][0] == 0
    # the same moment again: the open round, not a new one
    assert issue_round(wh, policy["policy_id"], actor="t", now=start)["round"] == 1
    second = issue_round(wh, policy["policy_id"], actor="t", now=start + timedelta(days=1))
    assert second["round"] == 2
    grants = wh.sql(
        "SELECT p.lifecycle, count(DISTINCT g.coupon_id), count(*) FROM coupon_grants g "
        "JOIN profiles p USING (user_id) GROUP BY 1"
    )
    assert grants and all(n_coupons == 1 for _, n_coupons, _ in grants)  # one offer per stage
    for stage, _, n in grants:
        members = offer_policies.segment_members(wh, policy["policy_id"], stage)
        assert n == len(members) and opted_out not in members
    assert wh.sql("SELECT count(*) FROM coupon_grants WHERE user_id = ?", [opted_out])[0][0] == 0
    # round 1 was measured from the warehouse when round 2 began
    row = wh.sql(
        "SELECT segment, exposures, value, spend, starts_at, ends_at FROM offer_rounds "
        "WHERE policy_id = ? AND round_no = 1 ORDER BY exposures DESC LIMIT 1",
        [policy["policy_id"]],
    )[0]
    segment, exposures, value, spend, s, e = row
    members = offer_policies.segment_members(wh, policy["policy_id"], segment)
    views = wh.sql(
        "SELECT count(*) FROM events WHERE type = 'view' AND ts >= ? AND ts < ? "
        "AND user_id IN (SELECT unnest(?::VARCHAR[]))",
        [s, e, members],
    )[0][0]
    paid = wh.sql(
        "SELECT coalesce(sum(o.amount), 0)::DOUBLE FROM orders o "
        "WHERE o.status NOT IN ('cancelled', 'failed', 'refunded') AND o.ts >= ? AND o.ts < ? "
        "AND o.user_id IN (SELECT unnest(?::VARCHAR[]))",
        [s, e, members],
    )[0][0]
    assert exposures == views > 0 and spend == 0.0
    assert 0 < value < paid  # profit: the paid amount less the goods' cost
    shown = offer_policies.get_policy(wh, policy["policy_id"])
    assert shown["rounds_measured"] == 1 and shown["current"]["round"] == 2
    # repeatable coupons come back: a member holding an expired grant gets the coupon again
    third = issue_round(wh, policy["policy_id"], actor="t", now=start + timedelta(days=2))
    again = [i for i in third["issued"] if i["offer"] != "no coupon"]
    assert all(not i["refused"] for i in again)
    audit = wh.sql("SELECT count(*) FROM audit_log WHERE action = 'offer.choose'")[0][0]
    assert audit == 3 * len(stages)


def test_bad_policies_are_refused(month: Warehouse) -> None:
    wh = month
    once = _coupon(wh, 5, repeatable=False)
    ok = _coupon(wh, 10)
    for kwargs, field in (
        ({"coupon_ids": ["nope"]}, "coupons"),
        ({"coupon_ids": [once]}, "coupons"),
        ({"coupon_ids": [ok], "segments": ["high spenders"]}, "segments"),
        ({"coupon_ids": [ok], "objective": "likes"}, "objective"),
        ({"coupon_ids": [ok], "rounds": 1}, "rounds"),
        ({"coupon_ids": [ok], "budget": -5.0}, "budget"),
        ({"coupon_ids": [ok], "max_loss": 2.0}, "max_loss"),
    ):
        with pytest.raises(Exception) as caught:
            offer_policies.create_policy(wh, "bad", **kwargs)  # type: ignore[arg-type]
        assert getattr(caught.value, "field", None) == field, (kwargs, caught.value)
    assert wh.sql("SELECT count(*) FROM offer_policies")[0][0] == 0
    # the guard's defaults: 1 % for a profit policy, none for GMV
    for objective, guard in (("profit", 0.01), ("gmv", None)):
        made = offer_policies.create_policy(wh, objective, [ok], objective=objective)
        state = json.loads(
            wh.sql("SELECT state FROM offer_policies WHERE policy_id = ?", [made["policy_id"]])[0][0]
        )
        assert state["max_loss"] == guard


def test_the_offer_stream_agrees_with_the_oracle(month: Warehouse) -> None:
    oracle = Oracle.for_warehouse(month)
    segment, names = _segments(month, oracle)
    offers = [Offer(0.0), Offer(10.0, "live"), Offer(10.0, "any")]
    day = offer_round(oracle.world, segment, len(names), offers, oracle.world.config.days, seed=1)
    assert day.views.sum() == len(day.segment_of_view) > 100
    # the control's purchase probability of a shelf view is the Oracle's, independently computed
    profit, spend = day.expected("profit")
    assert spend[:, 0].sum() == 0 and (spend[:, 2] >= spend[:, 1]).all()  # "anywhere" pays on more views
    assert (day.prob[:, 2] >= day.prob[:, 0]).all()  # a coupon never lowers the chance to buy
    gmv, _ = day.expected("gmv")
    assert (gmv >= profit).all()
    # realised outcomes average out to the truth over many days
    totals = np.zeros(2)
    for d in range(30):
        r = offer_round(oracle.world, segment, len(names), offers, oracle.world.config.days + d, seed=2)
        totals += [r.realised(np.zeros(len(names), dtype=int))[0].sum(), r.expected()[0][:, 0].sum()]
    assert abs(totals[0] / totals[1] - 1) < 0.1


def test_the_comparison_on_the_simulated_world(month: Warehouse) -> None:
    r = compare_offer_policies(month, rounds=20, seed=3)
    oracle = r["policies"]["oracle"]["value"]
    assert oracle >= r["policies"]["best single offer"]["value"] >= r["policies"]["no coupon"]["value"]
    assert r["policies"]["bandit"]["spend"] <= r["budget"]
    assert 0.8 < r["share_of_oracle"]["bandit"] <= 1.0
    assert len(r["regret_curve"]) == 20 and r["regret"] == pytest.approx(r["regret_curve"][-1], abs=0.05)
    with pytest.raises(ValidationFailed):
        compare_offer_policies(month, rounds=2)
    with pytest.raises(ValidationFailed):
        compare_offer_policies(month, objective="likes")
    json.dumps(r)  # the CLI and the API serialise it as is
