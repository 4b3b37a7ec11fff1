"""Serving on a simulated warehouse: rules, cache, cold start, tag removals, live rooms, refits, retrains."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.privacy import consent
from liveloop.privacy.consent import ConsentChange
from liveloop.profiles.tags import remove_tag, restore_tag
from liveloop.recommend import registry
from liveloop.recommend.factorization import ALS
from liveloop.recommend.online import OnlineState
from liveloop.recommend.service import LIVE_BOOST, RecommendService
from liveloop.recommend.train import train
from liveloop.recommend.upkeep import Upkeep, parse_interval
from liveloop.warehouse import Warehouse

PERSONAL = {"similar_users", "because_viewed", "new_similar", "segment_popular"}


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, data_home: Path
) -> Iterator[tuple[Warehouse, Settings]]:
    home = tmp_path_factory.mktemp("rec") / "home"
    settings = Settings(home=home, data_home=data_home, secret_key=generate_key())
    wh = Warehouse.open(settings)
    simulate_into_warehouse(wh, scale="tiny", seed=11)
    train(wh, settings, evaluate=False, force=True)
    yield wh, settings
    wh.close()


def _svc(trained, **kw) -> RecommendService:
    wh, settings = trained
    return RecommendService(wh, settings, **kw)


def _active_user(wh: Warehouse, offset: int = 0) -> str:
    return wh.sql(
        "SELECT user_id FROM events WHERE product_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 "
        "LIMIT 1 OFFSET ?",
        [offset],
    )[0][0]


def _ids(result: dict) -> list[str]:
    return [i["product_id"] for i in result["items"]]


def test_known_user_gets_personal_list_with_reasons(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    out = svc.recommend(_active_user(wh), 8)
    assert out["mode"] == "personalised" and out["known_user"] and len(out["items"]) == 8
    assert len(set(_ids(out))) == 8
    for item in out["items"]:
        assert item["reason"]["code"] and item["reason"]["text_zh"] and item["reason"]["text_en"]
    svc.flush_audit()
    logged = wh.sql(
        "SELECT decision, details FROM audit_log WHERE action = 'recommend' AND subject = ?", [out["user_id"]]
    )
    assert logged and logged[-1][0] == ",".join(_ids(out))
    from liveloop.privacy.audit import decisions  # the list, explained to its user (PIPL art. 24)

    zh, en = (decisions(wh, out["user_id"], lang=lang)[0]["explanation"] for lang in ("zh", "en"))
    assert zh.startswith("为你推荐了 8 件商品（个性化推荐）") and en.startswith("8 products recommended")
    assert not re.search(r"[\u4e00-\u9fff]", en)


def test_cached_lists_are_hits_and_every_served_list_is_audited(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = _active_user(wh, 1)
    first = svc.recommend_json(user, 6)
    assert svc.cache.misses == 1 and svc.cache.hits == 0
    assert svc.cached_json(user, 6, "home") == first  # from the cache alone, no warehouse access
    assert svc.recommend_json(user, 6) == first and svc.cache.hits == 2
    assert svc.cached_json(user, 7, "home") is None  # another k: another entry
    ranked = svc.cached_json(user, 7, "home", rank=True)  # ranked in memory, no query
    assert ranked is not None and len(json.loads(ranked)["items"]) == 7 and svc.cache.misses == 2
    assert svc.cached_json(user, 7, "live:not-in-the-snapshot", rank=True) is None  # needs a query
    assert svc.flush_audit() == 4
    rows = wh.sql("SELECT count(*) FROM audit_log WHERE action = 'recommend' AND subject = ?", [user])
    assert rows[0][0] >= 4


def test_rules_no_out_of_stock_and_no_recent_purchases(trained) -> None:
    wh, _ = trained
    user = _active_user(wh)
    svc = _svc(trained, explore=False)
    before = svc.recommend(user, 10)["items"]
    gone, bought = before[0]["product_id"], before[1]["product_id"]
    wh.sql("UPDATE products SET stock = 0 WHERE product_id = ?", [gone])
    try:
        svc.refresh()  # the server's worker re-reads stock every second; here at once
        svc.feedback(user, bought, "purchase")
        after = _ids(svc.recommend(user, 10))
        assert gone not in after and bought not in after
        purchased = {
            r[0]
            for r in wh.sql("SELECT product_id FROM events WHERE user_id = ? AND type = 'purchase'", [user])
        }
        assert not purchased & set(after)
    finally:
        wh.sql("UPDATE products SET stock = 5 WHERE product_id = ?", [gone])


def test_a_sold_out_item_leaves_a_cached_list_without_a_rerank_of_others(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = _active_user(wh, 2)
    listed = _ids(svc.recommend(user, 5))
    gen = svc.state.snap.gen
    wh.sql("UPDATE products SET stock = 0 WHERE product_id = ?", [listed[2]])
    try:
        svc.refresh()
        again = _ids(svc.recommend(user, 5))
        assert listed[2] not in again and svc.state.snap.gen == gen  # stock alone: no global re-rank
    finally:
        wh.sql("UPDATE products SET stock = 5 WHERE product_id = ?", [listed[2]])


def test_feedback_changes_the_next_list_without_retraining(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = "fresh-visitor-1"
    cold = svc.recommend(user, 10)
    assert cold["mode"] == "cold_start" and not cold["known_user"]
    clicked = wh.sql("SELECT product_id FROM products ORDER BY product_id DESC LIMIT 1")[0][0]
    for kind in ("click", "add_to_cart"):
        svc.feedback(user, clicked, kind)
    warm = svc.recommend(user, 10)
    assert _ids(warm) != _ids(cold)
    assert any(i["reason"]["code"] == "because_viewed" for i in warm["items"])


def test_non_personalised_users_share_one_list_and_the_switch_is_re_read(trained) -> None:
    wh, _ = trained
    users = [_active_user(wh, 3), _active_user(wh, 4)]
    svc = _svc(trained, intervals={"opted_out": 0.2})
    personal = svc.recommend(users[0], 10)
    assert personal["mode"] == "personalised"
    wh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id IN (?, ?)", users)
    try:
        time.sleep(0.3)  # the opt-out set is re-read on its interval, without a restart
        svc.feedback(users[0], wh.sql("SELECT min(product_id) FROM products")[0][0], "click")
        a, b = (svc.recommend(u, 10) for u in users)
        assert a["mode"] == b["mode"] == "non_personalised"
        assert _ids(a) == _ids(b)
        assert {i["reason"]["code"] for i in a["items"]} == {"non_personalised"}  # no exploration either
    finally:
        wh.sql("UPDATE users SET non_personalised = FALSE WHERE user_id IN (?, ?)", users)


def test_a_refused_personalisation_consent_works_like_the_switch_and_a_new_grant_restores(trained) -> None:
    wh, _ = trained
    user = _active_user(wh, 5)
    svc = _svc(trained, intervals={"opted_out": 0.2})
    assert svc.recommend(user, 10)["mode"] == "personalised"
    say = partial(ConsentChange, user, "personalisation", source="app")
    consent.record(wh, [say("revoked", ts=datetime.now(UTC) - timedelta(seconds=5))], actor="test")
    time.sleep(0.3)
    refused = svc.recommend(user, 10)
    assert refused["mode"] == "non_personalised"
    assert {i["reason"]["code"] for i in refused["items"]} == {"non_personalised"}
    consent.record(wh, [say("granted")], actor="test")
    time.sleep(0.3)
    assert svc.recommend(user, 10)["mode"] == "personalised"


def test_live_context_lists_only_the_lineup_and_ended_sessions_are_empty(trained) -> None:
    wh, _ = trained
    sid, lineup = wh.sql("SELECT session_id, lineup FROM live_sessions ORDER BY session_id LIMIT 1")[0]
    svc = _svc(trained, explore=False)
    ended = svc.recommend(_active_user(wh), 5, f"live:{sid}")
    assert ended["items"] == [] and "ended" in ended["reason"] and ended["mode"] == "ended"
    ends = datetime.now(UTC) + timedelta(seconds=2)
    wh.sql("UPDATE live_sessions SET end_ts = ? WHERE session_id = ?", [ends, sid])
    svc.refresh()
    live = svc.recommend(_active_user(wh), 5, f"live:{sid}")
    assert live["items"] and set(_ids(live)) <= set(lineup)
    assert {i["reason"]["code"] for i in live["items"]} == {"in_this_live"}
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    after = svc.recommend(_active_user(wh), 5, f"live:{sid}")  # the cached list expires with the room
    assert after["items"] == [] and after["mode"] == "ended"


def test_product_context_lists_similar_items(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = _active_user(wh)
    ref = svc.recommend(user, 3)["items"][0]["product_id"]
    out = svc.recommend(user, 8, f"product:{ref}")
    assert out["items"] and ref not in _ids(out)
    assert any(i["reason"]["code"] == "similar_item" and i["reason"]["ref"] for i in out["items"])


def test_exploration_slot_is_switchable_and_uses_thompson_sampling(trained, monkeypatch) -> None:
    wh, _ = trained
    user = _active_user(wh)
    on = _svc(trained, explore=True, seed=1)
    listed = on.recommend(user, 10)
    assert listed["items"][-1]["reason"]["code"] == "explore"
    assert "explore" not in {i["reason"]["code"] for i in on.recommend(user, 10, explore=False)["items"]}
    monkeypatch.setenv("LIVELOOP_RECOMMEND_EXPLORE", "off")
    off = _svc(trained)
    assert not off.explore
    assert "explore" not in {i["reason"]["code"] for i in off.recommend(user, 10)["items"]}
    assert off.recommend(user, 10, explore=True)["items"][-1]["reason"]["code"] == "explore"
    monkeypatch.setenv("LIVELOOP_RECOMMEND_EXPLORE", "sometimes")
    with pytest.raises(ValidationFailed):
        _svc(trained)


def test_thompson_sampling_prefers_high_ctr_and_explores_the_unknown() -> None:
    state = OnlineState()
    for i in range(200):
        state.learn_one(f"u{i}", "good", "impression")
        state.learn_one(f"u{i}", "bad", "impression")
        if i % 2 == 0:
            state.learn_one(f"u{i}", "good", "click")
    rng = np.random.default_rng(3)
    picks = [state.thompson(["bad", "good"], rng) for _ in range(300)]
    assert picks.count("good") > 290  # CTR ~0.5 against 0 over 200 impressions
    picks = [state.thompson(["bad", "new-a", "new-b"], rng) for _ in range(600)]
    assert picks.count("bad") < 30 and min(picks.count("new-a"), picks.count("new-b")) > 200


def test_removed_interest_tags_are_not_boosted_by_personal_signals(trained) -> None:
    wh, _ = trained
    user = _active_user(wh, 5)
    svc = _svc(trained, explore=False)
    before = svc.recommend(user, 10)["items"]
    category = next(i["category"] for i in before if i["reason"]["code"] in PERSONAL and i["category"])
    svc.feedback(user, next(i["product_id"] for i in before if i["category"] == category), "click")
    assert any(i["category"] == category for i in svc.recommend(user, 10)["items"])
    remove_tag(wh, user, f"category:{category}", actor="test")
    try:
        svc.refresh()
        after = svc.recommend(user, 10)["items"]
        assert all(i["reason"]["code"] not in PERSONAL for i in after if i["category"] == category)
        cats = set(wh.sql("SELECT product_id FROM products WHERE category = ?", [category]))
        assert not {(p,) for p in svc.interest_scores(user)} & cats
    finally:
        restore_tag(wh, user, f"category:{category}")


def test_cold_start_uses_the_profile_segment_else_popularity(trained) -> None:
    wh, _ = trained
    members = [r[0] for r in wh.sql("SELECT DISTINCT user_id FROM events ORDER BY 1 LIMIT 40")]
    wh.sql(
        "INSERT INTO segments (segment_id, name_zh, name_en, size, data_window, model_version) "
        "VALUES ('seg-t', '美妆达人', 'beauty fans', 41, 'test', 'test')"
    )
    profiles = pa.table(
        {
            "user_id": [*members, "newcomer-in-seg"],
            "segment_id": ["seg-t"] * (len(members) + 1),
            "data_window": ["test"] * (len(members) + 1),
            "model_version": ["test"] * (len(members) + 1),
        }
    )
    with wh.transaction() as con:
        wh.append("profiles", profiles, con=con)
    try:
        svc = _svc(trained, explore=False)
        seg = svc.recommend("newcomer-in-seg", 6)
        assert seg["mode"] == "cold_start" and seg["fallback"] == "segment"
        reasons = [i["reason"] for i in seg["items"]]
        assert any(r["code"] == "segment_popular" and "美妆达人" in r["text_zh"] for r in reasons)
        nobody = svc.recommend("newcomer-without-profile", 6)
        assert nobody["mode"] == "cold_start" and nobody["fallback"] == "popularity"
        assert {i["reason"]["code"] for i in nobody["items"]} == {"cold_start"}
        assert "new here" in nobody["items"][0]["reason"]["text_en"]
    finally:
        wh.sql("DELETE FROM profiles WHERE segment_id = 'seg-t'")
        wh.sql("DELETE FROM segments WHERE segment_id = 'seg-t'")


def test_live_now_is_a_trained_feature_of_the_hybrid(trained) -> None:
    """The simulator's rooms drive sales while live: the ranker learns a weight for the live-now share."""
    wh, _ = trained
    (version,) = [v for v in registry.list_versions(wh) if v["active"]]
    metrics = version["metrics"]
    assert metrics["model"] == "hybrid" and metrics["feature_importance"]["live_now"] > 0
    bundle = _svc(trained).bundle()
    assert bundle.live_boost == metrics["live_boost"] and bundle.live_boost > 0
    assert bundle.main.live and bundle.main.live_next_.shape == (len(bundle.items),)  # the schedule's share


def test_home_lists_boost_products_of_rooms_live_now(trained) -> None:
    wh, _ = trained
    user = _active_user(wh, 6)
    svc = _svc(trained, explore=False)
    before = svc.recommend(user, 10)["items"]
    target = before[-1]
    sid, start, end, lineup = wh.sql(
        "SELECT session_id, start_ts, end_ts, lineup FROM live_sessions ORDER BY session_id LIMIT 1 OFFSET 2"
    )[0]
    now = datetime.now(UTC)
    wh.sql(
        "UPDATE live_sessions SET start_ts = ?, end_ts = ?, lineup = ? WHERE session_id = ?",
        [now - timedelta(minutes=1), now + timedelta(hours=1), [target["product_id"]], sid],
    )
    try:
        svc.refresh()
        after = {i["product_id"]: i for i in svc.recommend(user, 10)["items"]}
        boosted = after[target["product_id"]]
        assert boosted["reason"]["code"] == "in_live_now" and boosted["reason"]["session_id"] == sid
        learned = svc.bundle().live_boost  # the hybrid's live-now weight, on serving's scale
        assert learned is not None and 0 < learned < LIVE_BOOST
        assert boosted["score"] == pytest.approx(target["score"] + learned, abs=1e-4)
        assert boosted["rank"] <= target["rank"]
    finally:
        wh.sql(
            "UPDATE live_sessions SET start_ts = ?, end_ts = ?, lineup = ? WHERE session_id = ?",
            [start, end, lineup, sid],
        )


def test_products_new_since_training_are_reachable_through_content(trained) -> None:
    wh, _ = trained
    pid, title, category = wh.sql(
        "SELECT product_id, title, category FROM products ORDER BY product_id LIMIT 1 OFFSET 7"
    )[0]
    wh.sql(
        "INSERT INTO products (product_id, title, category, stock) VALUES ('brand-new-1', ?, ?, 10)",
        [f"{title} 升级款", category],
    )
    try:
        svc = _svc(trained, explore=False)
        assert svc.snapshot().model.cat_to_item[svc.snapshot().catalogue.index["brand-new-1"]] == -1
        own = svc.recommend("someone", 5, "product:brand-new-1")  # the model never saw it
        assert own["items"] and own["items"][0]["reason"]["code"] == "similar_item"
        near = svc.recommend("someone", 20, f"product:{pid}")
        assert "brand-new-1" in _ids(near)
    finally:
        wh.sql("DELETE FROM products WHERE product_id = 'brand-new-1'")


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
    assert parse_interval("6h") == 21_600 and parse_interval("30m") == 1_800 and parse_interval("off") is None
    with pytest.raises(ValidationFailed):
        parse_interval("soon")


def test_empty_catalogue_and_training_without_interactions(wh, settings) -> None:
    out = RecommendService(wh, settings).recommend("anyone", 5)
    assert out["items"] == [] and "empty" in out["reason"]
    with pytest.raises(InsufficientData):
        train(wh, settings)


def test_incremental_refit_moves_the_users_factors_and_list(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = _active_user(wh, 7)
    bundle = svc.bundle()
    u = bundle.user_index[user]
    als = next(r for r in [bundle.main, *getattr(bundle.main, "fitted_", [])] if isinstance(r, ALS))
    factors, top = als.user_factors[u].copy(), bundle.top_items[u].copy()
    seen = {r[0] for r in wh.sql("SELECT DISTINCT product_id FROM events WHERE user_id = ?", [user])}
    others = [str(p) for p in bundle.items if str(p) not in seen][:12]
    for pid in others:
        svc.feedback(user, pid, "purchase")
    assert svc.pending_refits() == 1
    assert svc.refit_pending() == 1 and svc.pending_refits() == 0
    assert not np.allclose(als.user_factors[u], factors)
    assert not np.array_equal(bundle.top_items[u], top)
    assert svc.counters["refit_users"] == 1


def test_the_worker_refits_in_the_background(trained) -> None:
    wh, _ = trained
    svc = _svc(trained, explore=False)
    user = _active_user(wh, 8)
    svc.start(refit_every_s=0.2)
    try:
        svc.feedback(user, wh.sql("SELECT max(product_id) FROM products")[0][0], "add_to_cart")
        deadline = time.monotonic() + 30
        while svc.counters["refit_users"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert svc.counters["refit_users"] == 1 and svc.upkeep.counters["errors"] == 0
    finally:
        svc.stop()


def test_scheduled_retrain_switches_versions_without_dropping_requests(trained) -> None:
    wh, _ = trained
    orders = wh.sql("SELECT order_id, user_id FROM orders ORDER BY order_id LIMIT 40")
    pair = [r[0] for r in wh.sql("SELECT product_id FROM products ORDER BY product_id LIMIT 2")]
    items = pa.table(
        {
            "order_id": [o for o, _ in orders for _ in pair],
            "line_no": [100 + j for _ in orders for j in range(len(pair))],
            "product_id": [p for _ in orders for p in pair],
            "quantity": [1] * (2 * len(orders)),
            "unit_price": pa.array([Decimal("1.00")] * (2 * len(orders)), pa.decimal128(18, 2)),
            "amount": pa.array([Decimal("1.00")] * (2 * len(orders)), pa.decimal128(18, 2)),
        }
    )
    with wh.transaction() as con:
        wh.append("order_items", items, con=con)
    svc = _svc(trained, explore=False, intervals={"model": 0.1})
    user = _active_user(wh)
    before = svc.recommend(user, 5)["model_version"]
    upkeep = Upkeep(svc, retrain_every_s=1.0)
    svc.upkeep = upkeep
    upkeep.start()
    try:
        deadline = time.monotonic() + 400  # the retrain compares candidates (SASRec too) on a holdout
        while upkeep.counters["retrains"] == 0 and time.monotonic() < deadline:
            assert svc.recommend(user, 5)["items"]  # served throughout, from the old version
            time.sleep(0.05)
        assert upkeep.counters["retrains"] >= 1 and upkeep.counters["retrain_errors"] == 0
        assert upkeep.last_retrain["activated"], upkeep.last_retrain  # the same configuration, fresher data
    finally:
        svc.stop()
    svc.refresh()
    now = svc.recommend(user, 5)
    assert now["model_version"] == registry.active_version(wh)[0] != before
    together = svc.recommend(user, 5, f"product:{pair[0]}")  # the new version mined the baskets
    assert any(
        i["product_id"] == pair[1] and i["reason"]["code"] == "bought_together" for i in together["items"]
    )
    logged = wh.sql("SELECT subject FROM audit_log WHERE action = 'recommend.retrain'")
    assert now["model_version"] in {r[0] for r in logged}
    registry.activate(wh, before)


def test_versions_roll_back(trained) -> None:
    wh, settings = trained
    first = registry.active_version(wh)
    assert first is not None
    assert Path(first[1], "model.pkl").exists() and Path(first[1], "meta.json").exists()
    second = train(wh, settings, evaluate=False, force=True)["version"]
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
    wh.sql("INSERT INTO live_sessions (session_id) VALUES ('unscheduled')")  # no start time given yet
    svc = _svc(trained, explore=False)
    rooms = rooms_for_user(svc, user, now=now)
    assert "unscheduled" not in {r["session_id"] for r in rooms}
    wh.sql("DELETE FROM live_sessions WHERE session_id = 'unscheduled'")
    live = {r["session_id"] for r in rooms if r["live_now"]}
    assert sid in live and all(r["start_ts"] > now for r in rooms if not r["live_now"])
    assert all(r["session_id"] != sid or r["reason"]["code"] == "live_now" for r in rooms)
    pinned = pin_product(svc, user, sid)
    assert pinned["product"]["product_id"] in set(lineup)
    with pytest.raises(NotFound):
        pin_product(svc, user, "nope")


def test_a_recommend_experiment_chooses_each_users_strategy_and_logs_exposures(trained) -> None:
    from liveloop.analytics import experiments as service
    from liveloop.experiments import store

    wh, _ = trained
    exp = service.create(
        wh,
        {
            "name": "popular vs model",
            "target": "recommend",
            "arms": [
                {"name": "model", "config": {"strategy": "model"}},
                {"name": "popular", "config": {"strategy": "popular", "explore": False}},
            ],
        },
    )
    try:
        svc = _svc(trained, explore=True)
        users = [_active_user(wh, i) for i in range(30)]
        out = {u: svc.recommend(u, 6) for u in users}
        arms = {u: o["experiment"]["arm"] for u, o in out.items()}
        assert {o["experiment"]["id"] for o in out.values()} == {exp.experiment_id}
        assert arms == {u: exp.place(u).arm for u in users} and set(arms.values()) == {"model", "popular"}
        popular = [o for u, o in out.items() if arms[u] == "popular"]
        assert all(o["mode"] == "experiment_popular" for o in popular)
        assert len({tuple(_ids(o)) for o in popular}) == 1  # one shared list, no exploration slot
        assert all(o["mode"] == "personalised" for u, o in out.items() if arms[u] == "model")
        svc.flush_audit()
        logged = dict(
            wh.sql("SELECT user_id, arm FROM exposures WHERE experiment_id = ?", [exp.experiment_id])
        )
        assert logged == arms
        # Table 2 on this traffic: every item served counts as exposure, in the user's arm
        table = service.results(wh, exp.experiment_id, act=False)["table2"]
        shown = {
            a: sum(len(o["items"]) for u, o in out.items() if arms[u] == a) for a in ("model", "popular")
        }
        assert {r["arm"]: r["exposure"] for r in table["rows"]} == shown
        assert [r["arm"] for r in table["rows"]] == ["model", "popular"] and "vs_control" in table["rows"][1]
        assert table["rows"][0]["ctr"] is not None and 0 <= table["rows"][0]["ctr"] <= 1
    finally:
        store.stop(wh, exp.experiment_id)
    after = _svc(trained, explore=False).recommend(users[0], 6)
    assert "experiment" not in after
