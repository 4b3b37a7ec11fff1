"""Risk detection: every detector finds the fraud injected into a small simulated world and leaves the
clean world alone; KPI drops with their expected value and interval; the review queue (idempotent scans,
reviews, filters, bad input) and the erasure of a flagged user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from liveloop.analytics import risk
from liveloop.analytics.risk_kpi import kpi_series
from liveloop.analytics.risk_store import write_findings
from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.datasets.simulator.fraud import FraudConfig, FraudTruth, inject_fraud
from liveloop.privacy import rights
from liveloop.warehouse import Warehouse

#: Every tactic in 30% of the sessions, half the campaigns with fresh accounts: each detector has work.
CONFIG = FraudConfig(
    campaign_share=0.3, p_joins=1, p_comments=1, p_likes=1, p_gifts=1, fresh_share=0.5, bots=(12, 25)
)
ORDER_AND_ENGAGEMENT = [k for k in risk.DETECTORS if k != "kpi_drop"]


def _world(home: Path, data_home: Path, *, fraud: bool) -> tuple[Warehouse, FraudTruth | None]:
    wh = Warehouse.open(Settings(home=home, data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
    return wh, inject_fraud(wh, seed=3, config=CONFIG) if fraud else None


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    wh, _ = _world(tmp_path_factory.mktemp("risk-clean"), data_home, fraud=False)
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def fraud(
    tmp_path_factory: pytest.TempPathFactory, data_home: Path
) -> Iterator[tuple[Warehouse, FraudTruth]]:
    wh, truth = _world(tmp_path_factory.mktemp("risk-fraud"), data_home, fraud=True)
    assert truth is not None
    yield wh, truth
    wh.close()


@pytest.fixture
def flagged(settings: Settings, data_home: Path) -> Iterator[tuple[Warehouse, Settings]]:
    """A fresh fraud world of this test's own (a scan, reviews and erasures change it)."""
    settings = replace(settings, data_home=data_home)
    wh = Warehouse.open(settings)
    simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
    inject_fraud(wh, seed=3, config=CONFIG)
    yield wh, settings
    wh.close()


def _precision_recall(flagged: set[str], truth: set[str]) -> tuple[float, float]:
    tp = len(flagged & truth)
    return tp / max(len(flagged), 1), tp / max(len(truth), 1)


def test_the_clean_world_raises_no_engagement_or_order_flags(clean: Warehouse) -> None:
    found = risk.detect(clean, ORDER_AND_ENGAGEMENT)
    assert {k: len(v) for k, v in found.items()} == dict.fromkeys(ORDER_AND_ENGAGEMENT, 0)


def test_each_detector_finds_the_injected_cases_with_their_evidence(
    fraud: tuple[Warehouse, FraudTruth],
) -> None:
    wh, truth = fraud
    found = risk.detect(wh, ORDER_AND_ENGAGEMENT)
    targets = {
        "comment_burst": truth.comment_accounts,
        "new_account_comments": truth.new_comment_accounts,
        "synced_joins": truth.join_accounts,
        "like_spike": truth.like_accounts,
        "gift_spike": truth.gift_accounts,
        "linked_accounts": truth.ring_accounts,
        "refund_abuse": truth.refund_abusers,
    }
    for kind, accounts in targets.items():
        assert accounts, kind
        flagged = {u for f in found[kind] for u in f.accounts()}
        precision, recall = _precision_recall(flagged, accounts)
        assert precision >= 0.9 and recall >= 0.8, (kind, precision, recall)
        for f in found[kind]:
            assert f.evidence["rule"] and f.score > 0 and f.members
    orders = {o for f in found["linked_accounts"] for o in f.items("order")}
    assert _precision_recall(orders, truth.ring_orders) >= (0.9, 0.8)
    burst = max(found["comment_burst"], key=lambda f: f.score)
    assert burst.evidence["accounts"] >= 6 and burst.items("comment") <= truth.comment_ids
    assert {f.session_id for f in found["like_spike"]} <= truth.sessions["likes"]
    ring = found["linked_accounts"][0]
    assert (
        ring.evidence["coupon_orders"] >= ring.evidence["accounts"] or ring.evidence["accounts_in_lockstep"]
    )


def test_a_scan_of_one_session_finds_what_the_full_scan_finds_there(
    fraud: tuple[Warehouse, FraudTruth],
) -> None:
    wh, truth = fraud
    full = risk.detect(wh, list(risk.SESSION_KINDS))
    session = sorted(truth.sessions["comments"])[0]
    one = risk.detect(wh, session_id=session)
    assert set(one) == set(risk.SESSION_KINDS)
    for kind, findings in one.items():
        there = sorted(f.fingerprint for f in full[kind] if f.session_id == session)
        assert sorted(f.fingerprint for f in findings) == there
    assert one["comment_burst"] and all(f.session_id == session for v in one.values() for f in v)


def _hourly(days: int, seed: int) -> np.ndarray:
    """Counts per hour: a diurnal curve peaking in the evening, Poisson noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    level = 40 + 120 * np.exp(-(((hours % 24) - 20) ** 2) / 8)
    return rng.poisson(level).astype(float)


def test_a_planted_kpi_drop_is_found_with_its_expected_value_and_interval() -> None:
    x = _hourly(21, seed=4)
    planted = 18 * 24 + 20  # 20:00 on day 19, the busiest hour
    normal = x[planted]
    x[planted] *= 0.4
    x[10 * 24 + 20] *= 1.8  # a spike is not a drop
    drops = risk.detect_drops(x, 24, count=True)
    assert [d.index for d in drops] == [planted]
    d = drops[0]
    assert d.value == pytest.approx(0.4 * normal)
    assert d.low < d.expected < d.high and d.value < d.low and d.z < -3
    assert abs(d.expected - normal) < 0.2 * normal
    assert risk.detect_drops(_hourly(21, seed=4), 24, count=True) == []  # no drop planted, none found
    assert risk.detect_drops(x[: 4 * 24], 24, count=True) == []  # too little history to judge
    with pytest.raises(ValidationFailed) as err:
        risk.detect_drops(x, 0)
    assert err.value.field == "period"


def test_kpi_series_come_from_the_warehouse_and_bad_ones_are_refused(clean: Warehouse) -> None:
    stamps, values = kpi_series(clean, "orders", "day")
    assert (
        len(stamps) == len(values) >= 5
        and values.sum()
        == clean.sql("SELECT count(*) FROM orders WHERE status NOT IN ('cancelled', 'failed', 'refunded')")[
            0
        ][0]
    )
    for metric, grain, field in (("orders", "week", "grain"), ("aov", "hour", "metric")):
        with pytest.raises(ValidationFailed) as err:
            kpi_series(clean, metric, grain)
        assert err.value.field == field


def test_scans_are_idempotent_and_reviews_change_the_status(flagged: tuple[Warehouse, Settings]) -> None:
    wh, _ = flagged
    first = risk.scan(wh, ORDER_AND_ENGAGEMENT)
    assert first["new"] == first["found"] > 0
    again = risk.scan(wh, ORDER_AND_ENGAGEMENT)
    assert again["found"] == first["found"] and again["new"] == 0
    listed = risk.list_flags(wh, kind="comment_burst")
    assert listed["total"] == first["kinds"]["comment_burst"]["new"]
    flag = listed["flags"][0]
    assert flag["status"] == "open" and flag["accounts"] > 0 and flag["evidence"]["rule"]
    detail = risk.get_flag(wh, flag["flag_id"], examples=3)
    assert len(detail["members"]["comment"]) == 3 and len(detail["members"]["account"]) == flag["accounts"]
    by_session = risk.list_flags(wh, session_id=flag["session_id"])
    assert by_session["total"] >= 1 and all(
        f["session_id"] == flag["session_id"] for f in by_session["flags"]
    )

    done = risk.review_flag(wh, flag["flag_id"], "confirmed", reviewer="ana", note="template spam")
    assert done["status"] == "confirmed" and done["reviewed_by"] == "ana" and done["reviewed_at"]
    risk.review_flag(wh, listed["flags"][1]["flag_id"], "dismissed", reviewer="bo")
    assert risk.list_flags(wh, status="confirmed")["total"] == 1
    assert risk.list_flags(wh, status="dismissed", kind="comment_burst")["total"] == 1
    assert risk.scan(wh, ["comment_burst"])["new"] == 0  # a dismissed finding is not raised again
    audited = wh.sql("SELECT actor, decision FROM audit_log WHERE action = 'risk.review' ORDER BY audit_id")
    assert audited == [("ana", "confirmed"), ("bo", "dismissed")]
    burst = risk.detect(wh, ["comment_burst"])["comment_burst"][0]
    moved = replace(burst, key="2000-01-01T00:00:00+00:00")  # the same burst, its window moved
    assert write_findings(wh, [moved])["new"] == 0


def test_bad_input_is_a_clear_error(flagged: tuple[Warehouse, Settings]) -> None:
    wh, _ = flagged
    flag_id = risk.scan(wh, ["refund_abuse"])["flag_ids"][0]
    cases = [
        (lambda: risk.detect(wh, ["bots"]), ValidationFailed, "kind"),
        (lambda: risk.scan(wh, []), ValidationFailed, "kind"),
        (lambda: risk.list_flags(wh, kind="bots"), ValidationFailed, "kind"),
        (lambda: risk.list_flags(wh, status="closed"), ValidationFailed, "status"),
        (lambda: risk.list_flags(wh, limit=0), ValidationFailed, "limit"),
        (lambda: risk.review_flag(wh, flag_id, "closed", reviewer="ana"), ValidationFailed, "status"),
        (lambda: risk.review_flag(wh, flag_id, "confirmed", reviewer=" "), ValidationFailed, "reviewed_by"),
        (lambda: risk.review_flag(wh, "rf_nope", "confirmed", reviewer="ana"), NotFound, "flag_id"),
        (lambda: risk.get_flag(wh, "rf_nope"), NotFound, "flag_id"),
        (lambda: risk.detect(wh, params={"bogus": 1}), ValidationFailed, "params"),
        (lambda: risk.detect(wh, ["refund_abuse"], session_id="s1"), ValidationFailed, "session_id"),
    ]
    for call, error, field in cases:
        with pytest.raises(error) as err:
            call()
        assert err.value.field == field
    assert risk.get_flag(wh, flag_id)["status"] == "open"


def test_erasing_a_flagged_user_removes_them_from_every_flag(flagged: tuple[Warehouse, Settings]) -> None:
    wh, settings = flagged
    risk.scan(wh, ORDER_AND_ENGAGEMENT)
    refund = risk.list_flags(wh, kind="refund_abuse")["flags"][0]
    abuser = refund["user_id"]
    burst = risk.get_flag(wh, risk.list_flags(wh, kind="comment_burst")["flags"][0]["flag_id"])
    bot = burst["members"]["account"][0]["user_id"]
    before = len(burst["members"]["account"])
    risk.review_flag(wh, refund["flag_id"], "confirmed", reviewer="ana")

    for user in (abuser, bot):
        report = rights.erase_user(wh, user, settings=settings, cipher=load_cipher(settings), actor="t")
        assert report["verified"] is True
    assert report["deleted"]["risk_flag_members"] >= 2  # the account and its comments

    for user in (abuser, bot):
        assert wh.sql("SELECT count(*) FROM risk_flags WHERE user_id = ? OR subject = ?", [user, user]) == [
            (0,)
        ]
        assert wh.sql("SELECT count(*) FROM risk_flag_members WHERE user_id = ?", [user]) == [(0,)]
    with pytest.raises(NotFound):
        risk.get_flag(wh, refund["flag_id"])
    reviewed = wh.sql("SELECT subject, details FROM audit_log WHERE action = 'risk.review'")
    assert reviewed and abuser not in str(reviewed)  # the review's record names the flag, never the user
    after = risk.get_flag(wh, burst["flag_id"])
    assert len(after["members"]["account"]) == before - 1  # the burst stays, without the erased account
    assert risk.scan(wh, ["refund_abuse"])["new"] == 0  # the erased user's orders are gone: nothing to refind
