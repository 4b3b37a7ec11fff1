"""Journeys: a trigger lets users in, waits and exits move them, sends go through the same policies as
campaigns, a holdout is kept out and measured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from liveloop.campaigns import journeys, outbox
from liveloop.core.errors import ValidationFailed
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def signups(wh: Warehouse, n: int, at: datetime, prefix: str = "new") -> list[str]:
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    wh.append("users", pa.table({"user_id": ids}))
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"su-{u}" for u in ids],
                "ts": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
                "user_id": ids,
                "type": ["signup"] * n,
            }
        ),
    )
    return ids


def grant_in_app(wh: Warehouse, ids: list[str]) -> None:
    consent.record(
        wh,
        [
            consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel="in_app")
            for u in ids
        ],
        actor="t",
    )


def started(wh: Warehouse, name: str = "welcome", holdout: float = 0.2) -> str:
    j = journeys.create(wh, journeys.builtin(name, holdout=holdout), actor="key:m")
    journeys.approve(wh, j["journey_id"], actor="key:a")
    journeys.activate(wh, j["journey_id"], actor="key:a", now=T0 - timedelta(hours=1))
    return str(j["journey_id"])


def test_the_welcome_journey_sends_waits_exits_buyers_and_reminds_the_others(wh, cipher) -> None:
    ids = signups(wh, 200, T0 - timedelta(minutes=30))
    grant_in_app(wh, ids)
    jid = started(wh)
    first = journeys.tick(wh, now=T0)[jid]
    assert first["entered"] == 200
    groups = dict(wh.sql("SELECT grp, count(*) FROM journey_runs GROUP BY grp"))
    assert groups["holdout"] + groups["treatment"] == 200 and 20 < groups["holdout"] < 65
    welcome = dict(wh.sql(f"SELECT status, count(*) FROM messages WHERE campaign_id = '{jid}.s0' GROUP BY 1"))
    assert welcome == {"queued": groups["treatment"], "holdout": groups["holdout"]}
    assert outbox.deliver(wh, cipher, now=T0)["sent"] == groups["treatment"]
    assert len(outbox.inbox(wh, cipher, ids[0])) + len(outbox.inbox(wh, cipher, ids[1])) >= 1
    late = signups(wh, 10, T0 + timedelta(minutes=10), prefix="late")  # the journey keeps letting users in
    grant_in_app(wh, late)
    assert journeys.tick(wh, now=T0 + timedelta(minutes=20))[jid]["entered"] == 10
    treated_late = wh.sql(
        f"SELECT count(*) FROM messages WHERE campaign_id = '{jid}.s0' AND user_id LIKE 'late%' "
        "AND status = 'queued'"
    )[0][0]
    assert outbox.deliver(wh, cipher, now=T0 + timedelta(minutes=20))["sent"] == treated_late > 0
    ids = ids + late

    buyers = ids[:50]  # half a hundred buy within the 72 hours
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"buy-{u}" for u in buyers],
                "ts": pa.array([T0 + timedelta(hours=5)] * 50, pa.timestamp("us", tz="UTC")),
                "user_id": buyers,
                "type": ["purchase"] * 50,
                "amount": pa.array([99.0] * 50),
            }
        ),
    )
    assert journeys.tick(wh, now=T0 + timedelta(hours=24))[jid]["sent_steps"] == 0  # still waiting
    later = journeys.tick(wh, now=T0 + timedelta(hours=73))[jid]
    assert later["exited"] == 50
    reminded = {
        r[0]
        for r in wh.sql(f"SELECT user_id FROM messages WHERE campaign_id = '{jid}.s3' AND grp = 'treatment'")
    }
    assert reminded and not reminded & set(buyers)
    states = dict(wh.sql("SELECT state, count(*) FROM journey_runs GROUP BY 1"))
    assert states == {"exited": 50, "done": 160}
    rep = journeys.report(wh, jid, now=T0 + timedelta(days=8))
    assert rep["measured"]["treatment"]["users"] + rep["measured"]["holdout"]["users"] == 210
    assert rep["lift"] is not None
    assert rep["send_steps"][0]["funnel"][3]["users"] == groups["treatment"] + treated_late


def test_journey_sends_obey_consent_and_the_holdout_never_gets_a_message(wh, cipher) -> None:
    ids = signups(wh, 40, T0 - timedelta(minutes=30))
    grant_in_app(wh, ids[:20])
    jid = started(wh, holdout=0.3)
    journeys.tick(wh, now=T0)
    rows = wh.sql(f"SELECT user_id, status, reason, grp FROM messages WHERE campaign_id = '{jid}.s0'")
    by_user = {u: (s, r, g) for u, s, r, g in rows}
    assert all(by_user[u][0] in ("skipped", "holdout") for u in ids[20:])
    assert any(by_user[u] == ("skipped", "no_consent", "treatment") for u in ids[20:])
    held = [u for u, (s, _r, g) in by_user.items() if g == "holdout"]
    outbox.deliver(wh, cipher, now=T0)
    assert held and all(not outbox.inbox(wh, cipher, u) for u in held)


def test_users_enter_once_and_only_after_activation(wh) -> None:
    signups(wh, 5, T0 - timedelta(days=3))  # signed up before the journey started: not let in
    jid = started(wh)
    assert journeys.tick(wh, now=T0)[jid]["entered"] == 0
    assert journeys.tick(wh, now=T0 + timedelta(hours=1))[jid]["entered"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": {"kind": "moon"}}, "trigger.kind"),
        ({"trigger": {"kind": "event", "event": "dance"}}, "trigger.event"),
        ({"steps": [{"wait_hours": 5}]}, "steps"),
        (
            {"steps": [{"exit_if": "rule:shoe_size > 3"}, {"send": {"channels": ["in_app"], "body": "x"}}]},
            "rule",
        ),
        ({"steps": [{"send": {"channels": ["sms"], "body": "x"}}]}, "channels"),
        ({"holdout": 0.7}, "holdout"),
        ({"trigger": {"kind": "cart_abandoned", "hours": "abc"}}, "trigger.hours"),
        ({"trigger": {"kind": "churn_risk", "above": True}}, "trigger.above"),
        ({"trigger": "signup"}, "trigger"),
        ({"steps": ["x"]}, "steps.0"),
        ({"steps": [{"wait_hours": True}, {"send": {"channels": ["in_app"], "body": "x"}}]}, "steps.0"),
    ],
)
def test_bad_journeys_are_refused_with_the_field(shop, change, field) -> None:
    data = journeys.builtin("welcome").to_dict() | change
    with pytest.raises(ValidationFailed) as err:
        journeys.create(shop, journeys.JourneySpec.from_dict(data), actor="m")
    assert err.value.field == field
    assert shop.sql("SELECT count(*) FROM journeys")[0][0] == 0


def test_every_builtin_journey_is_valid(shop) -> None:
    for name in journeys.BUILTINS:
        assert journeys.create(shop, journeys.builtin(name), actor="m")["status"] == "draft"


def test_the_purchase_that_lets_a_user_in_is_not_its_outcome(wh) -> None:
    ids = [f"b{i:03d}" for i in range(60)]
    wh.append("users", pa.table({"user_id": ids}))
    first = T0 - timedelta(minutes=30)
    again = [u for i, u in enumerate(ids) if i % 3 == 0]  # a third buy again two days later
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"p1-{u}" for u in ids] + [f"p2-{u}" for u in again],
                "ts": pa.array(
                    [first] * 60 + [T0 + timedelta(days=2)] * len(again), pa.timestamp("us", tz="UTC")
                ),
                "user_id": ids + again,
                "type": ["purchase"] * (60 + len(again)),
            }
        ),
    )
    jid = started(wh, "cross_sell", holdout=0.3)
    journeys.tick(wh, now=T0)
    rep = journeys.report(wh, jid, now=T0 + timedelta(days=8))
    bought = sum(g["bought"] for g in rep["measured"].values())
    assert bought == len(again)  # the triggering purchase is not counted, the later one is


def test_a_welcome_coupon_goes_to_the_treated_before_the_message_that_announces_it(wh) -> None:
    from liveloop.campaigns import coupons
    from liveloop.campaigns.coupons import CouponSpec

    coupon = coupons.create(
        wh, CouponSpec.from_dict({"name": "新人券", "amount": "20", "valid_days": 7}), actor="t"
    )
    ids = signups(wh, 80, T0 - timedelta(minutes=30))
    grant_in_app(wh, ids)
    j = journeys.create(wh, journeys.builtin("welcome", holdout=0.3, coupon=coupon["coupon_id"]), actor="m")
    assert "新人专享券" in j["spec"]["steps"][1]["send"]["body"]
    journeys.approve(wh, j["journey_id"], actor="a")
    journeys.activate(wh, j["journey_id"], actor="a", now=T0 - timedelta(hours=1))
    moved = journeys.tick(wh, now=T0)[j["journey_id"]]
    holders = {r[0] for r in wh.sql("SELECT user_id FROM coupon_grants")}
    treated = {r[0] for r in wh.sql("SELECT user_id FROM journey_runs WHERE grp = 'treatment'")}
    assert moved["coupons"] == len(holders) and holders == treated
    with pytest.raises(ValidationFailed) as err:
        journeys.builtin("loyalty", coupon=coupon["coupon_id"])
    assert err.value.field == "coupon"


def test_an_unknown_policy_key_is_a_clear_error_not_a_crash() -> None:
    data = journeys.builtin("welcome").to_dict()
    with pytest.raises(ValidationFailed) as err:
        journeys.JourneySpec.from_dict(data | {"policy": {"quiet_begin": 22}})
    assert err.value.field == "policy.quiet_begin"
