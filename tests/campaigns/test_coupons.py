"""Coupons and member privileges under published rules (DESIGN.md §8.2): the disclosed text, forbidden
eligibility inputs refused, the true reason of every refusal, budget and grant caps, redemption money
arithmetic (with a property test), expiry, one member price for every member, audit explanations, the
CLI, and the API on a real server."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from profiles_shop import seed_built_shop

from liveloop.campaigns import coupons
from liveloop.campaigns.coupons import CouponSpec, Eligibility
from liveloop.core.config import Settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.privacy.audit import decisions
from liveloop.warehouse import Warehouse

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def built_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built shop (36 users with profiles and segments), made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("coupon-shop") / "liveloop.duckdb"
    with Warehouse(path) as wh:
        seed_built_shop(wh)
    return path


@pytest.fixture
def cwh(settings: Settings, built_shop: Path) -> Any:
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built_shop, settings.db_path)
    wh = Warehouse.open(settings)
    yield wh
    wh.close()


def make(wh: Warehouse, name: str = "新人券", **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "amount": "20", "valid_days": 7} | kw
    return coupons.create(wh, CouponSpec.from_dict(data), actor="t")


def users_where(wh: Warehouse, cond: str = "TRUE") -> list[str]:
    return [r[0] for r in wh.sql(f"SELECT user_id FROM profiles WHERE {cond} ORDER BY user_id")]


# -- published rules and forbidden inputs ----------------------------------------------------------------


def test_the_published_rules_disclose_value_eligibility_validity_and_limits(cwh) -> None:
    c = make(
        cwh,
        "满199减20",
        amount="20",
        min_spend="199",
        valid_days=7,
        max_grants=1000,
        budget="10000",
        eligibility={"lifecycle": "loyal"},
    )
    zh, en = c["rules"]["zh"], c["rules"]["en"]
    assert "¥20.00" in en["value"] and "¥199.00" in en["value"] and "满¥199.00" in zh["value"]
    assert "Loyal" in en["eligibility"] and "忠诚" in zh["eligibility"]
    assert "7 days" in en["validity"] and "7 天" in zh["validity"]
    assert "1,000" in en["limits"] and "¥10,000.00" in en["limits"] and "one per person" in en["limits"]
    assert all(en[k] in en["text"] for k in ("value", "eligibility", "validity", "limits"))
    assert "willingness to pay" in en["text"] and "支付意愿" in zh["text"]
    assert coupons.get(cwh, c["coupon_id"])["rules"] == coupons.describe(c)
    stored = cwh.sql("SELECT rule FROM coupons WHERE coupon_id = ?", [c["coupon_id"]])[0][0]
    assert stored == 'lifecycle = "loyal"'

    pct = make(cwh, "85折", amount=None, percent_off="15", max_discount="50", eligibility={})
    assert "15% off" in pct["rules"]["en"]["value"] and "¥50.00" in pct["rules"]["en"]["value"]
    assert "8.5折" in pct["rules"]["zh"]["value"]
    assert pct["rules"]["en"]["eligibility"] == "every user"


FORBIDDEN_RULES = [
    'value_tier = "high"',
    "monetary > 100",
    "aov > 50",
    "clv > 10",
    'age_band = "18-24"',
    'gender = "female"',
    "price_sensitivity > 0.5",
    "discount_share > 0.1",
    "avg_unit_price > 10",
    "coupon_rate > 0.2",
    "frequency >= 2 and not (net_monetary < 5)",
    'user_id = "u001"',
    'occupation = "teacher"',  # not a profile field here: refused for the law's reason all the same
    'income_band = "high"',
]


def test_eligibility_naming_a_forbidden_input_is_refused_and_nothing_is_stored(cwh) -> None:
    for rule in FORBIDDEN_RULES:
        with pytest.raises(ValidationFailed) as err:
            make(cwh, eligibility={"rule": rule})
        assert err.value.field == "eligibility", rule
        assert "§8.2" in err.value.detail
    spending = cwh.sql(
        "SELECT segment_id, name_en FROM segments WHERE name_en IN ('High-value loyal', 'High value', "
        "'Price-sensitive')"
    )
    assert spending, "the built shop has a spending segment to test with"
    sid, name_en = spending[0]
    for elig in ({"segment": sid}, {"segment": name_en}, {"rule": f'segment = "{name_en}"'}):
        with pytest.raises(ValidationFailed) as err:
            make(cwh, eligibility=elig)
        assert err.value.field == "eligibility"
    assert cwh.sql("SELECT count(*) FROM coupons")[0][0] == 0

    fine = make(
        cwh, eligibility={"rule": "frequency >= 2 and churn_probability < 0.5 and not brand:value_pack"}
    )
    assert fine["eligibility"]["rule"].startswith("frequency")
    other = cwh.sql(
        "SELECT segment_id FROM segments WHERE name_en NOT IN ('High-value loyal', 'High value', "
        "'Price-sensitive') AND name_en NOT LIKE 'Above-average%' LIMIT 1"
    )[0][0]
    assert make(cwh, eligibility={"segment": other})["eligibility"]["segment"] == other
    # names added to the profile later are judged by their words
    assert coupons.forbidden_reason("spend_90d") and coupons.forbidden_reason("income_band")
    assert coupons.forbidden_reason("messages_sent") is None and coupons.forbidden_reason("frequency") is None


def test_a_coupon_is_checked_before_it_is_stored(cwh) -> None:
    cases = [
        ({"amount": "10", "percent_off": "5"}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": None, "percent_off": "100"}, "percent_off"),
        ({"amount": "1.005"}, "amount"),
        ({"valid_days": None}, "ends_at"),
        ({"amount": None, "percent_off": "10", "budget": "100"}, "max_discount"),
        ({"eligibility": {"lifecycle": "vip"}}, "eligibility"),
        ({"kind": "privilege", "budget": "100"}, "budget"),
        ({"starts_at": "2026-06-02T00:00:00+08:00", "ends_at": "2026-06-01T00:00:00+08:00"}, "ends_at"),
    ]
    for changes, field in cases:
        with pytest.raises(ValidationFailed) as err:
            make(cwh, **changes)
        assert err.value.field == field, changes
    assert cwh.sql("SELECT count(*) FROM coupons")[0][0] == 0


# -- issue, claim and the true reason ----------------------------------------------------------------------


def _refusal(out: dict[str, Any], code: str) -> None:
    assert out["granted"] is False and out["reason"] == code, out
    assert out["message"]["zh"] and out["message"]["en"] and out["message"]["zh"] != out["message"]["en"]


def test_every_failed_claim_states_its_true_reason_and_is_audited_and_explained(cwh) -> None:
    now = datetime.now(UTC)
    loyal = users_where(cwh, "lifecycle = 'loyal'")
    other = cwh.sql("SELECT user_id, lifecycle FROM profiles WHERE lifecycle = 'active' ORDER BY user_id")[0]

    gold = make(cwh, "忠诚客户券", eligibility={"lifecycle": "loyal"})
    out = coupons.claim(cwh, gold["coupon_id"], other[0], actor="app")
    _refusal(out, "not_eligible")
    assert "lifecycle stage “Loyal”" in out["message"]["en"] and "yours: Active" in out["message"]["en"]
    assert "「忠诚」" in out["message"]["zh"] and "您当前：活跃" in out["message"]["zh"]
    assert coupons.claim(cwh, gold["coupon_id"], loyal[0], actor="app")["granted"] is True
    _refusal(coupons.claim(cwh, gold["coupon_id"], loyal[0], actor="app"), "already_holds")
    _refusal(coupons.claim(cwh, gold["coupon_id"], "nobody", actor="app"), "unknown_user")

    coupons.set_status(cwh, gold["coupon_id"], "paused", actor="t")
    _refusal(coupons.claim(cwh, gold["coupon_id"], loyal[1], actor="app"), "paused")
    coupons.set_status(cwh, gold["coupon_id"], "active", actor="t")
    assert coupons.claim(cwh, gold["coupon_id"], loyal[1], actor="app")["granted"] is True

    later = make(cwh, "预告券", starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=9))
    _refusal(coupons.claim(cwh, later["coupon_id"], loyal[0], actor="app"), "not_started")
    gone = make(cwh, "过期券", starts_at=now - timedelta(days=9), ends_at=now - timedelta(days=2))
    _refusal(coupons.claim(cwh, gone["coupon_id"], loyal[0], actor="app"), "expired")

    few = make(cwh, "限量券", max_grants=2)
    got = [coupons.claim(cwh, few["coupon_id"], u, actor="app")["granted"] for u in loyal[:2]]
    assert got == [True, True]
    _refusal(coupons.claim(cwh, few["coupon_id"], loyal[2], actor="app"), "max_grants")

    small = make(cwh, "预算券", amount="30", budget="50")
    assert coupons.claim(cwh, small["coupon_id"], loyal[0], actor="app")["granted"] is True
    _refusal(coupons.claim(cwh, small["coupon_id"], loyal[1], actor="app"), "budget")

    cwh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id = ?", [loyal[3]])
    pushed = coupons.issue(cwh, gold["coupon_id"], [loyal[3]], source="audience:a", actor="t")
    assert pushed["refused"][0]["reason"] == "non_personalised" and pushed["issued"] == 0
    assert coupons.claim(cwh, gold["coupon_id"], loyal[3], actor="app")["granted"] is True

    # every outcome is an audit row, and the user's explanation is the message they were given
    refused = coupons.claim(cwh, few["coupon_id"], loyal[4], actor="app")
    for lang in ("zh", "en"):
        latest = decisions(cwh, loyal[4], lang=lang)[0]
        assert latest["action"] == "coupon.grant" and latest["decision"] == "refused"
        assert latest["explanation"] == refused["message"][lang]
    rows = cwh.sql(
        "SELECT decision, reason, count(*) FROM audit_log WHERE action = 'coupon.grant' GROUP BY ALL"
    )
    reasons = {r for d, r, _ in rows if d == "refused"}
    assert reasons == set(coupons.REFUSALS), reasons
    granted = sum(n for d, _, n in rows if d == "granted")
    assert granted == cwh.sql("SELECT count(*) FROM coupon_grants")[0][0]


def test_claims_write_one_coupon_claim_event_each_and_pushes_none(cwh) -> None:
    c = make(cwh)
    u = users_where(cwh)
    coupons.claim(cwh, c["coupon_id"], u[0], actor="app")
    coupons.claim(cwh, c["coupon_id"], u[0], actor="app")  # refused: already holds
    coupons.issue(cwh, c["coupon_id"], u[1:4], source="campaign:x", actor="t")
    rows = cwh.sql(
        "SELECT user_id, props->>'$.coupon_id' FROM events WHERE type = 'coupon_claim' AND source = 'coupons'"
    )
    assert rows == [(u[0], c["coupon_id"])]


def test_budget_cap_counts_the_worst_case_of_outstanding_grants_and_max_grants_stop_issuing(cwh) -> None:
    users = users_where(cwh)
    c = make(cwh, amount="10", budget="95")
    first = coupons.issue(cwh, c["coupon_id"], users, source="manual", actor="t")
    assert first["issued"] == 9  # 9 x 10 fits in 95, a 10th would not
    assert first["refused_by_reason"] == {"budget": len(users) - 9}
    r = coupons.report(cwh, c["coupon_id"])
    assert r["committed"] == Decimal("90.00") and r["budget_left"] == Decimal("5.00")

    holder = first["granted"][0]["user_id"]
    used = coupons.redeem(cwh, user_id=holder, order_id="o1", order_amount="4", coupon_id=c["coupon_id"])
    assert used["discount"] == Decimal("4.00")  # the order was smaller than the coupon
    more = coupons.issue(cwh, c["coupon_id"], users, source="manual", actor="t")
    assert more["issued"] == 1  # committed 4 + 8 x 10 = 84; one more fits in 95
    r = coupons.report(cwh, c["coupon_id"])
    assert r["committed"] == Decimal("94.00") and r["discount_spent"] == Decimal("4.00")
    assert r["issued"] == 10 and r["redeemed"] == 1 and r["redemption_rate"] == pytest.approx(0.1)
    assert r["refused"]["budget"] == (len(users) - 9) + (len(users) - 10)
    assert r["refused"]["already_holds"] == 9

    capped = make(cwh, "限量", max_grants=5)
    out = coupons.issue(cwh, capped["coupon_id"], users, source="manual", actor="t")
    assert out["issued"] == 5 and out["refused_by_reason"] == {"max_grants": len(users) - 5}
    assert [g["user_id"] for g in out["granted"]] == users[:5]  # in the order given


# -- redemption ----------------------------------------------------------------------------------------------


def test_redemption_checks_min_spend_rounds_half_up_and_happens_once(cwh) -> None:
    users = users_where(cwh)
    full = make(cwh, "满199减20", amount="20", min_spend="199")
    coupons.issue(cwh, full["coupon_id"], users[:2], source="manual", actor="t")
    low = coupons.redeem(
        cwh, user_id=users[0], order_id="o1", order_amount="150", coupon_id=full["coupon_id"]
    )
    assert low["redeemed"] is False and low["reason"] == "min_spend"
    assert "¥150.00" in low["message"]["en"] and "¥199.00" in low["message"]["en"]
    ok = coupons.redeem(cwh, user_id=users[0], order_id="o2", order_amount="199", coupon_id=full["coupon_id"])
    assert ok["redeemed"] and ok["discount"] == Decimal("20.00") and ok["pay"] == Decimal("179.00")
    again = coupons.redeem(
        cwh, user_id=users[0], order_id="o2", order_amount="199", coupon_id=full["coupon_id"]
    )
    assert again["redeemed"] and again["repeat"] and again["discount"] == ok["discount"]
    other = coupons.redeem(
        cwh, user_id=users[0], order_id="o3", order_amount="300", coupon_id=full["coupon_id"]
    )
    assert other["reason"] == "already_redeemed" and "o2" in other["message"]["en"]
    nope = coupons.redeem(
        cwh, user_id=users[5], order_id="o4", order_amount="300", coupon_id=full["coupon_id"]
    )
    assert nope["reason"] == "not_held"
    events = cwh.sql(
        "SELECT user_id, amount, props->>'$.order_id' FROM events "
        "WHERE type = 'coupon_redeem' AND source = 'coupons'"
    )
    assert events == [(users[0], Decimal("20.00"), "o2")]

    pct = make(cwh, "85折", amount=None, percent_off="15")
    coupons.issue(cwh, pct["coupon_id"], users[:2], source="manual", actor="t")
    grant = cwh.sql(
        "SELECT grant_id FROM coupon_grants WHERE coupon_id = ? AND user_id = ?", [pct["coupon_id"], users[1]]
    )[0][0]
    tie = coupons.redeem(cwh, user_id=users[1], order_id="o5", order_amount="10.30", grant_id=grant)
    assert tie["discount"] == Decimal("1.55")  # 10.30 x 15% = 1.545: half-up, not half-even, not float
    assert tie["pay"] + tie["discount"] == Decimal("10.30")
    with pytest.raises(NotFound):
        coupons.redeem(cwh, user_id=users[0], order_id="o6", order_amount="10", grant_id=grant)
    with pytest.raises(ValidationFailed) as err:
        coupons.redeem(cwh, user_id=users[0], order_id="o7", order_amount="-1", coupon_id=pct["coupon_id"])
    assert err.value.field == "order_amount"
    # every redemption and refused redemption is audited and explained
    done = decisions(cwh, users[1], lang="en")[0]
    assert done["action"] == "coupon.redeem" and done["explanation"] == tie["message"]["en"]
    assert coupons.report(cwh, full["coupon_id"])["redeem_refused"] == {
        "min_spend": 1,
        "already_redeemed": 1,
        "not_held": 1,
    }


def test_a_grant_expires_and_its_budget_is_released(cwh) -> None:
    users = users_where(cwh)
    now = datetime.now(UTC)
    c = make(cwh, amount="10", budget="10", valid_days=1, ends_at=now + timedelta(days=30))
    three_days_ago = now - timedelta(days=3)
    first = coupons.issue(cwh, c["coupon_id"], users[:2], source="manual", actor="t", now=three_days_ago)
    assert first["issued"] == 1 and first["refused_by_reason"] == {"budget": 1}
    assert first["granted"][0]["expires_at"] == three_days_ago + timedelta(days=1)
    late = coupons.redeem(cwh, user_id=users[0], order_id="o1", order_amount="50", coupon_id=c["coupon_id"])
    assert late["redeemed"] is False and late["reason"] == "expired"
    in_time = coupons.redeem(
        cwh, user_id=users[0], order_id="o1", order_amount="50", coupon_id=c["coupon_id"],
        ts=three_days_ago + timedelta(hours=1),
    )  # fmt: skip
    assert in_time["redeemed"] and in_time["discount"] == Decimal("10.00")

    d = make(cwh, "短券", amount="10", budget="10", valid_days=1)
    coupons.issue(cwh, d["coupon_id"], users[:1], source="manual", actor="t", now=three_days_ago)
    r = coupons.report(cwh, d["coupon_id"])
    assert r["expired_unused"] == 1 and r["outstanding"] == 0 and r["committed"] == Decimal("0.00")
    again = coupons.issue(cwh, d["coupon_id"], users[1:2], source="manual", actor="t")
    assert again["issued"] == 1  # the expired grant no longer holds budget


def test_a_repeatable_coupon_comes_back_once_used_or_expired_and_never_twice_at_once(cwh) -> None:
    users = users_where(cwh)[:2]
    now = datetime.now(UTC)
    r = make(cwh, "每轮券", amount="5", valid_days=1, repeatable=True)
    once = make(cwh, "一次券", amount="5", valid_days=1)
    assert (
        "again once used or expired" in r["rules"]["en"]["text"]
        and "每人限一张" in once["rules"]["zh"]["text"]
    )
    day1 = now - timedelta(days=3)
    assert coupons.issue(cwh, r["coupon_id"], users, source="round1", actor="t", now=day1)["issued"] == 2
    held = coupons.issue(
        cwh, r["coupon_id"], users, source="round1b", actor="t", now=day1 + timedelta(hours=1)
    )
    assert held["refused_by_reason"] == {"already_holds": 2}  # one at a time
    used = coupons.redeem(cwh, user_id=users[0], order_id="o1", order_amount="50", coupon_id=r["coupon_id"],
                          ts=day1 + timedelta(hours=2))  # fmt: skip
    assert used["redeemed"]
    day2 = day1 + timedelta(days=1, hours=1)  # the second user's grant has expired unused
    assert coupons.issue(cwh, r["coupon_id"], users, source="round2", actor="t", now=day2)["issued"] == 2
    # the new grant is the one a new order uses; the old order's redemption still reads back unchanged
    fresh = coupons.redeem(cwh, user_id=users[0], order_id="o2", order_amount="50", coupon_id=r["coupon_id"],
                           ts=day2 + timedelta(hours=1))  # fmt: skip
    assert fresh["redeemed"] and fresh["grant_id"] != used["grant_id"]
    repeat = coupons.redeem(cwh, user_id=users[0], order_id="o1", order_amount="50", coupon_id=r["coupon_id"],
                            ts=day2 + timedelta(hours=1))  # fmt: skip
    assert repeat["redeemed"] and repeat["repeat"] and repeat["grant_id"] == used["grant_id"]
    assert coupons.issue(cwh, once["coupon_id"], users, source="a", actor="t", now=day1)["issued"] == 2
    later = coupons.issue(cwh, once["coupon_id"], users, source="b", actor="t", now=day2)
    assert later["refused_by_reason"] == {"already_holds": 2}  # one per person, ever


# -- the money arithmetic (property) -------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value="0.01", max_value="99.99", places=2, allow_nan=False, allow_infinity=False)


@hsettings(max_examples=300, deadline=None)
@given(
    order=amounts, off=st.one_of(amounts, percents), is_pct=st.booleans(), cap=st.one_of(st.none(), amounts)
)
def test_a_discount_is_between_zero_and_the_order_in_whole_cents(order, off, is_pct, cap) -> None:
    if is_pct:
        off = min(max(off, Decimal("0.01")), Decimal("99.99"))
        d = coupons.discount_for(order, percent_off=off, max_discount=cap)
        exact = order * off / 100
        assert abs(d - min(exact, cap if cap is not None else exact)) <= Decimal("0.005")
    else:
        d = coupons.discount_for(order, amount=off)
        assert d == min(off, order)
    assert Decimal(0) <= d <= order
    assert d == d.quantize(CENT)
    assert (order - d) >= 0


#: Whole percentages make exact half-cent ties common (0.10 x 5% = 0.5 cent), where rounding rules differ.
whole_percents = st.integers(1, 99).map(Decimal)


@hsettings(max_examples=300, deadline=None)
@given(order=amounts, pct=st.one_of(whole_percents, percents))
@example(order=Decimal("0.10"), pct=Decimal("5"))
def test_a_percentage_rounds_half_up_to_the_cent(order, pct) -> None:
    d = coupons.discount_for(order, percent_off=pct)
    cents = order * pct  # the exact discount in cents (order x pct / 100 yuan), exact in Decimal
    whole = int(cents)
    expected = Decimal(whole + (1 if cents - whole >= Decimal("0.5") else 0)) / 100
    assert d == expected.quantize(CENT)


@given(st.text(max_size=12))
def test_money_input_is_validated(raw) -> None:
    try:
        got = coupons.money(raw, "amount")
    except ValidationFailed as err:
        assert err.field == "amount"
    else:
        assert got >= 0 and got == got.quantize(CENT) and got == Decimal(raw)


# -- member privileges ------------------------------------------------------------------------------------


def test_every_member_sees_the_same_member_price_and_others_the_list_price(cwh) -> None:
    loyal = users_where(cwh, "lifecycle = 'loyal'")
    others = users_where(cwh, "lifecycle <> 'loyal'")
    gold = coupons.create(
        cwh,
        CouponSpec(
            "金卡会员",
            percent_off=Decimal("5"),
            kind="privilege",
            eligibility=Eligibility(lifecycle="loyal"),
            perks=("priority_purchase",),
        ),
        actor="t",
    )
    out = coupons.issue(cwh, gold["coupon_id"], loyal + others, source="manual", actor="t")
    assert out["issued"] == len(loyal) and out["refused_by_reason"] == {"not_eligible": len(others)}
    assert (
        "member price" in gold["rules"]["en"]["value"]
        and "same for every member" in gold["rules"]["en"]["value"]
    )

    for pid, price in cwh.sql("SELECT product_id, price FROM products ORDER BY product_id LIMIT 4"):
        seen = [coupons.member_price(cwh, pid, u) for u in loyal]
        expected = price - (price * Decimal("0.05")).quantize(CENT, ROUND_HALF_UP)
        assert {s["price"] for s in seen} == {expected} and all(s["member"] for s in seen)
        plain = [coupons.member_price(cwh, pid, u) for u in [*others, None]]
        assert {s["price"] for s in plain} == {price} and not any(s["member"] for s in plain)
        assert {s["list_price"] for s in seen + plain} == {price}  # one list price for everyone
        published = {json.dumps(s["member_prices"], default=str, sort_keys=True) for s in seen + plain}
        assert len(published) == 1  # the same published member price for all who ask

    member = coupons.privileges_of(cwh, loyal[0])
    assert member["member"] and member["privileges"][0]["priority_purchase"]
    assert member["privileges"][0]["rules"]["zh"]["text"] == gold["rules"]["zh"]["text"]
    assert coupons.privileges_of(cwh, others[0]) == {"user_id": others[0], "member": False, "privileges": []}
    with pytest.raises(ValidationFailed):
        coupons.redeem(cwh, user_id=loyal[0], order_id="o1", order_amount="99", coupon_id=gold["coupon_id"])
    with pytest.raises(NotFound):
        coupons.member_price(cwh, "no-such-product", loyal[0])


# -- the CLI ---------------------------------------------------------------------------------------------


def test_coupon_commands(cli, cwh) -> None:
    loyal = users_where(cwh, "lifecycle = 'loyal'")
    active = users_where(cwh, "lifecycle = 'active'")
    cwh.close()

    code, out, err = cli(
        "coupons", "create", "bad", "--amount", "5", "--valid-days", "3", "--rule", "aov > 50"
    )
    assert code != 0 and len(err.strip().splitlines()) == 1 and "aov" in err
    code, out, err = cli(
        "coupons", "create", "满100减10", "--amount", "10", "--min-spend", "100", "--valid-days", "7",
        "--lifecycle", "loyal", "--max-grants", "50", "--json",
    )  # fmt: skip
    assert code == 0, err
    cid = json.loads(out)["coupon_id"]
    code, out, _ = cli("coupons", "show", cid)
    assert code == 0 and "满¥100.00" in out and "orders of ¥100.00 or more" in out

    code, out, err = cli("coupons", "issue", cid, "--user", loyal[0], "--user", active[0], "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["issued"] == 1 and issued["refused_by_reason"] == {"not_eligible": 1}
    code, out, _ = cli("coupons", "claim", cid, active[1])
    assert code == 1 and "do not meet the published eligibility" in out
    code, out, _ = cli("coupons", "claim", cid, loyal[1], "--json")
    assert code == 0 and json.loads(out)["granted"] is True
    code, out, _ = cli(
        "coupons", "redeem", "--coupon", cid, "--user", loyal[0], "--order", "x1", "--amount", "80"
    )
    assert code == 1 and "minimum spend" in out
    code, out, _ = cli(
        "coupons", "redeem", "--coupon", cid, "--user", loyal[0], "--order", "x2", "--amount", "120", "--json"
    )
    assert code == 0 and json.loads(out)["discount"] == 10.0
    code, out, _ = cli("coupons", "report", cid, "--json")
    rep = json.loads(out)
    assert rep["issued"] == 2 and rep["redeemed"] == 1 and rep["discount_spent"] == 10.0
    assert rep["refused"] == {"not_eligible": 2} and rep["redeem_refused"] == {"min_spend": 1}
    code, out, _ = cli("coupons", "list", "--json")
    assert [c["coupon_id"] for c in json.loads(out)] == [cid]


# -- the API on a real server ---------------------------------------------------------------------------


def _small_shop(wh: Warehouse) -> None:
    """Four users (two loyal) with profiles and one product: enough for the API's round trip."""
    for i, stage in enumerate(("loyal", "loyal", "active", "new")):
        wh.sql("INSERT INTO users (user_id) VALUES (?)", [f"m{i}"])
        wh.sql(
            "INSERT INTO profiles (user_id, features, lifecycle, data_window, model_version) "
            "VALUES (?, '{\"frequency\": 3}', ?, 'w', 'v')",
            [f"m{i}", stage],
        )
    wh.sql("INSERT INTO products (product_id, price) VALUES ('sku1', 199.00)")


@pytest.mark.slow
def test_coupons_through_the_api(live_server_factory) -> None:
    srv = live_server_factory(seed=_small_shop)
    marketer, ingest, analyst = srv.client("marketer"), srv.client("ingest"), srv.client("analyst")

    bad = marketer.post("/v1/coupons", json={"name": "x", "amount": 5, "valid_days": 3,
                                             "eligibility": {"rule": "monetary > 100"}})  # fmt: skip
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "eligibility"
    made = marketer.post(
        "/v1/coupons", json={"name": "会员券", "amount": "15", "min_spend": "100", "valid_days": 7,
                             "max_grants": 2, "eligibility": {"lifecycle": "loyal"}},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    cid = made.json()["coupon_id"]
    assert ingest.post("/v1/coupons", json={"name": "y", "amount": 1, "valid_days": 1}).status_code == 403

    refused = ingest.post(f"/v1/coupons/{cid}/claim", json={"user_id": "m2"}).json()
    assert refused["granted"] is False and refused["reason"] == "not_eligible"
    issued = marketer.post(f"/v1/coupons/{cid}/issue", json={"user_ids": ["m0", "m1", "m3"]}).json()
    assert issued["issued"] == 2 and issued["refused_by_reason"] == {"not_eligible": 1}
    redeem = {"user_id": "m0", "order_id": "ord1", "order_amount": "150.00", "coupon_id": cid}
    done = ingest.post("/v1/coupons/redeem", json=redeem).json()
    assert done["redeemed"] is True and Decimal(str(done["discount"])) == Decimal("15.00")

    shown = analyst.get(f"/v1/coupons/{cid}").json()
    assert "¥15.00" in shown["rules"]["en"]["text"] and shown["report"]["redeemed"] == 1
    assert [c["coupon_id"] for c in analyst.get("/v1/coupons").json()] == [cid]

    priv = marketer.post(
        "/v1/coupons", json={"name": "金卡", "kind": "privilege", "percent_off": "10",
                             "perks": ["priority_purchase"], "eligibility": {"lifecycle": "loyal"}},
    )  # fmt: skip
    assert priv.status_code == 201, priv.text
    marketer.post(f"/v1/coupons/{priv.json()['coupon_id']}/issue", json={"user_ids": ["m0", "m1"]})
    prices = [
        ingest.get("/v1/products/sku1/member-price", params={"user_id": u}).json() for u in ("m0", "m1", "m2")
    ]
    assert [Decimal(str(p["price"])) for p in prices] == [
        Decimal("179.10"),
        Decimal("179.10"),
        Decimal("199.00"),
    ]
    assert ingest.get("/v1/users/m0/privileges").json()["privileges"][0]["priority_purchase"] is True
