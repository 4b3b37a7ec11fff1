"""Serving on a simulated warehouse: rules, cold start, non-personalised mode, feedback, versions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.privacy.crypto import generate_key
from liveloop.recommend import registry
from liveloop.recommend.service import RecommendService
from liveloop.recommend.train import train
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, data_home: Path
) -> Iterator[tuple[Warehouse, Settings]]:
    home = tmp_path_factory.mktemp("rec") / "home"
    settings = Settings(home=home, data_home=data_home, secret_key=generate_key())
    wh = Warehouse.open(settings)
    simulate_into_warehouse(wh, scale="tiny", seed=11)
    train(wh, settings, evaluate=False)
    yield wh, settings
    wh.close()


def _svc(trained, **kw) -> RecommendService:
    wh, settings = trained
    return RecommendService(wh, settings, **kw)


def _active_user(wh: Warehouse) -> str:
    return wh.sql(
        "SELECT user_id FROM events WHERE product_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )[0][0]


def test_known_user_gets_personal_list_with_reasons(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    out = svc.recommend(_active_user(wh), 8)
    assert out["mode"] == "personalised" and len(out["items"]) == 8
    assert len({i["product_id"] for i in out["items"]}) == 8
    for item in out["items"]:
        assert item["reason"]["code"] and item["reason"]["text_zh"] and item["reason"]["text_en"]
    svc.flush_audit()
    logged = wh.sql(
        "SELECT decision, details FROM audit_log WHERE action = 'recommend' AND subject = ?", [out["user_id"]]
    )
    assert logged and logged[-1][0] == ",".join(i["product_id"] for i in out["items"])


def test_rules_no_out_of_stock_and_no_recent_purchases(trained) -> None:
    wh, _ = trained
    user = _active_user(wh)
    before = _svc(trained, explore=False).recommend(user, 10)["items"]
    gone = before[0]["product_id"]
    bought = before[1]["product_id"]
    wh.sql("UPDATE products SET stock = 0 WHERE product_id = ?", [gone])
    try:
        svc = _svc(trained, explore=False)
        svc.feedback(user, bought, "purchase")
        after = [i["product_id"] for i in svc.recommend(user, 10)["items"]]
        assert gone not in after and bought not in after
        purchased = {
            r[0]
            for r in wh.sql("SELECT product_id FROM events WHERE user_id = ? AND type = 'purchase'", [user])
        }
        assert not purchased & set(after)
    finally:
        wh.sql("UPDATE products SET stock = 5 WHERE product_id = ?", [gone])


def test_feedback_changes_the_next_list_without_retraining(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = "fresh-visitor-1"
    cold = svc.recommend(user, 10)
    assert cold["mode"] == "cold_start"
    clicked = wh.sql("SELECT product_id FROM products ORDER BY product_id DESC LIMIT 1")[0][0]
    for kind in ("click", "add_to_cart"):
        svc.feedback(user, clicked, kind)
    warm = svc.recommend(user, 10)
    assert [i["product_id"] for i in warm["items"]] != [i["product_id"] for i in cold["items"]]
    assert any(i["reason"]["code"] == "because_viewed" for i in warm["items"])


def test_non_personalised_users_share_one_list(trained) -> None:
    wh, _ = trained
    users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id LIMIT 2")]
    wh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id IN (?, ?)", users)
    try:
        svc = _svc(trained)
        svc.feedback(users[0], wh.sql("SELECT min(product_id) FROM products")[0][0], "click")
        a, b = (svc.recommend(u, 10) for u in users)
        assert a["mode"] == b["mode"] == "non_personalised"
        assert [i["product_id"] for i in a["items"]] == [i["product_id"] for i in b["items"]]
        assert {i["reason"]["code"] for i in a["items"]} == {"non_personalised"}
    finally:
        wh.sql("UPDATE users SET non_personalised = FALSE WHERE user_id IN (?, ?)", users)


def test_live_context_lists_only_the_lineup_and_ended_sessions_are_empty(trained) -> None:
    wh, _ = trained
    sid, lineup = wh.sql("SELECT session_id, lineup FROM live_sessions ORDER BY session_id LIMIT 1")[0]
    svc = _svc(trained, explore=False)
    ended = svc.recommend(_active_user(wh), 5, f"live:{sid}")
    assert ended["items"] == [] and "ended" in ended["reason"]
    wh.sql(
        "UPDATE live_sessions SET end_ts = ? WHERE session_id = ?",
        [datetime.now(UTC) + timedelta(hours=1), sid],
    )
    live = svc.recommend(_active_user(wh), 5, f"live:{sid}")
    assert live["items"] and {i["product_id"] for i in live["items"]} <= set(lineup)


def test_bad_input(trained) -> None:
    svc = _svc(trained)
    with pytest.raises(ValidationFailed) as exc:
        svc.recommend("u", 0)
    assert exc.value.field == "k"
    with pytest.raises(NotFound):
        svc.recommend("u", 5, "product:nope")
    with pytest.raises(NotFound):
        svc.recommend("u", 5, "live:nope")
    with pytest.raises(ValidationFailed):
        svc.recommend("u", 5, "elsewhere")
    with pytest.raises(ValidationFailed):
        svc.feedback("u", "p", "teleport")


def test_empty_catalogue_and_training_without_interactions(wh, settings) -> None:
    out = RecommendService(wh, settings).recommend("anyone", 5)
    assert out["items"] == [] and "empty" in out["reason"]
    with pytest.raises(InsufficientData):
        train(wh, settings)


def test_versions_roll_back(trained) -> None:
    wh, settings = trained
    first = registry.active_version(wh)
    assert first is not None
    assert Path(first[1], "model.pkl").exists() and Path(first[1], "meta.json").exists()
    second = train(wh, settings, evaluate=False)["version"]
    assert registry.active_version(wh)[0] == second
    registry.activate(wh, first[0])
    assert registry.active_version(wh)[0] == first[0]
    with pytest.raises(NotFound):
        registry.activate(wh, "no-such-version")


def test_live_rooms_and_pinning(trained) -> None:
    from liveloop.recommend.live_rooms import pin_product, rooms_for_user

    wh, _ = trained
    user = _active_user(wh)
    sid, lineup, _start = wh.sql(
        "SELECT session_id, lineup, start_ts FROM live_sessions ORDER BY session_id LIMIT 1 OFFSET 1"
    )[0]
    now = datetime.now(UTC)
    wh.sql(
        "UPDATE live_sessions SET start_ts = ?, end_ts = ? WHERE session_id = ?",
        [now - timedelta(minutes=5), now + timedelta(hours=2), sid],
    )
    svc = _svc(trained, explore=False)
    rooms = rooms_for_user(svc, user, now=now)
    live = {r["session_id"] for r in rooms if r["live_now"]}
    assert sid in live and all(r["start_ts"] > now for r in rooms if not r["live_now"])
    assert all(r["session_id"] != sid or r["reason"]["code"] == "live_now" for r in rooms)
    pinned = pin_product(svc, user, sid)
    assert pinned["product"]["product_id"] in set(lineup)
    with pytest.raises(NotFound):
        pin_product(svc, user, "nope")
