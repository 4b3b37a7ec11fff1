"""The room's data kept in a real DuckDB warehouse as it happens, the summary written at ``end``, sessions
listed and read back; lineup facts answered from the lineup; ``nlp score`` decoding GBK files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from live_support import LINEUP, model, run_cli

from liveloop.content import default_checker
from liveloop.live import corpora, service, sessions
from liveloop.live.hub import LiveHub
from liveloop.live.qa import DEFAULT_POLICIES, KnowledgeBase
from liveloop.live.record import RoomRecorder
from liveloop.privacy.audit import decisions
from liveloop.warehouse import Warehouse

T0 = 1_700_000_080.0  # a minute boundary + 20 s: the events (0 to 100 s) span three minutes


def _ev(kind: str, t: float, user: str = "u1", **kw: object) -> dict[str, object]:
    return {"type": kind, "ts": T0 + t, "user_id": user, **kw}


def _session_events() -> list[dict[str, object]]:
    ev: list[dict[str, object]] = [_ev("viewers", 0, "", count=120)]
    ev += [_ev("enter", 1 + i * 0.1, f"v{i}") for i in range(30)]
    ev += [_ev("stage", 2, "", product_id="p-coat")]
    ev += [_ev("comment", 5 + i, f"v{i}", text="这个多少钱") for i in range(6)]  # 这个 = the coat on stage
    ev += [_ev("comment", 12 + i, f"v{i}", text="质量太差了，退货！") for i in range(3)]
    ev += [_ev("like", 20 + i, f"v{i}") for i in range(5)]
    ev += [_ev("click", 30 + i, f"v{i}", product_id="p-coat") for i in range(8)]
    ev += [_ev("purchase", 40 + i, f"v{i}", product_id="p-coat", amount=599.0) for i in range(3)]
    ev += [_ev("viewers", 70, "", count=300), _ev("stage", 75, "", product_id="p-serum")]
    ev += [
        _ev("purchase", 80, "v9", product_id="p-coat", amount=599.0, quantity=2)
    ]  # coat no longer on stage
    ev += [_ev("gift", 90, "v1", amount=30.0), _ev("comment", 95, "v2", text="主播好可爱!!!")]
    ev += [_ev("comment", 100, "", text="anonymous")]  # counted in the room, not a user's event
    return ev


def test_room_data_is_written_as_it_happens_and_summarised_at_end(wh: Warehouse, data_home: Path) -> None:
    hub = LiveHub(model, default_checker(), recorder=RoomRecorder(wh))
    service.open_session(hub, wh, "rec1", LINEUP)
    events = _session_events()
    hub.submit("rec1", events)
    hub.process()
    hub.recorder.flush()  # type: ignore[union-attr]
    # written while the session runs: the two closed minutes and the room's user events
    assert wh.sql("SELECT count(*) FROM live_minutes WHERE session_id = 'rec1'")[0][0] == 2
    n_user_events = sum(1 for e in events if e["user_id"] and e["type"] not in ("viewers", "stage"))
    assert wh.sql("SELECT count(*) FROM events WHERE session_id = 'rec1'")[0][0] == n_user_events
    ended = service.end_session(hub, wh, "rec1")
    summary = ended["summary"]
    assert summary["gmv"] == 599.0 * 4 and summary["orders"] == 4 and summary["units"] == 5
    assert summary["peak_viewers"] == 300 and summary["minutes"] == 3
    assert summary["comments"] == 11 and summary["gift_value"] == 30.0
    coat = next(p for p in summary["products"] if p["product_id"] == "p-coat")
    assert coat["clicks"] == 8 and coat["gmv"] == 2396.0 and coat["gmv_on_stage"] == 1797.0
    assert coat["units_on_stage"] == 3 and coat["units"] == 5
    top = summary["questions"]["top"][0]
    assert (
        top["askers"] == 6 and top["product_id"] == "p-coat" and top["answer"]["entry_id"] == "p-coat:price"
    )
    assert "599" in top["answer"]["answer"] and summary["questions"]["answered"] >= 1
    # everything is in the warehouse once end returns
    kinds = dict(wh.sql("SELECT type, count(*) FROM events WHERE session_id = 'rec1' GROUP BY 1"))
    assert kinds == {"enter_room": 30, "comment": 10, "like": 5, "click": 8, "purchase": 4, "gift": 1}
    scored = wh.sql(
        "SELECT count(*), count(sentiment), count(intent) FROM comments "
        "WHERE session_id = 'rec1' AND source = 'live'"
    )[0]
    assert scored == (10, 10, 10)
    assert wh.sql("SELECT sum(comments), max(viewers) FROM live_minutes WHERE session_id = 'rec1'")[0] == (
        11,
        300,
    )
    q = wh.sql(
        "SELECT askers, status, entry_id FROM live_questions WHERE session_id = 'rec1' ORDER BY askers DESC"
    )
    assert q[0] == (6, "answered", "p-coat:price")
    answered = wh.sql("SELECT CAST(details AS VARCHAR) FROM audit_log WHERE action = 'live.qa.answer'")
    asker = json.loads(answered[0][0])["askers"][0]  # every automated answer is audited with its askers
    said = [d["explanation"] for d in decisions(wh, asker, lang="zh") if d["action"] == "live.qa.answer"]
    assert said and said[0].startswith("直播助手自动回答了你的问题") and "599" in said[0]
    said_en = [d["explanation"] for d in decisions(wh, asker, lang="en") if d["action"] == "live.qa.answer"]
    assert said_en[0].startswith("the live assistant answered your question") and "599" in said_en[0]
    alerts = {k for (k,) in wh.sql("SELECT kind FROM live_alerts WHERE session_id = 'rec1'")}
    assert "sold_out" in alerts  # the air fryer of the lineup has no stock
    stored = sessions.finished(wh, "rec1")
    assert stored["summary"]["gmv"] == summary["gmv"] and len(stored["minutes"]) == 3
    end_ts = wh.sql("SELECT end_ts FROM live_sessions WHERE session_id = 'rec1'")[0][0]
    assert end_ts is not None
    listed = sessions.list_sessions(wh)["items"]
    assert listed[0]["session_id"] == "rec1" and listed[0]["status"] == "ended" and listed[0]["gmv"] == 2396.0


def test_recording_is_idempotent_and_bounded(wh: Warehouse, data_home: Path) -> None:
    for run in range(2):  # the same events twice (a replay run again): nothing is written twice
        hub = LiveHub(model, default_checker(), recorder=RoomRecorder(wh))
        hub.open(f"idem{run}", LINEUP)
        events = [_ev("like", i, "v1") for i in range(3)] + [_ev("like", 0, "v1")]  # a repeat in one batch
        hub.submit(f"idem{run}", events)
        hub.process()
        hub.recorder.flush()  # type: ignore[union-attr]
    assert wh.sql("SELECT count(*) FROM events WHERE session_id = 'idem0'")[0][0] == 4
    small = RoomRecorder(wh, max_pending=5)
    small.put("events", [{"event_id": f"x{i}"} for i in range(8)])
    assert small.dropped["events"] == 3 and len(small.pending) == 5


def test_lineup_facts_are_answered_from_the_lineup(data_home: Path) -> None:
    kb = KnowledgeBase(products=LINEUP, policies=DEFAULT_POLICIES)
    answerer = kb.answerer(default_checker())
    price = answerer.answer("这个多少钱", on_stage="p-coat")
    assert price.status == "answered" and price.entry_id == "p-coat:price" and "599.00" in price.answer
    assert answerer.answer("2号链接还有货吗", stock={"p-coat": 3}).answer == "羊毛大衣：还有 3 件"
    assert answerer.answer("炸锅还有吗").answer == "空气炸锅：已售罄"
    size = answerer.answer("大衣160斤穿什么码")
    assert size.entry_id == "p-coat:size" and "S-XL" in size.answer
    assert answerer.answer("包邮吗").entry_id == "policy:free_shipping"
    no_fact = answerer.answer("大衣保质期多久")  # the coat lists no shelf life: a human answers
    assert no_fact.status == "human" and "lists no shelf_life" in no_fact.reason
    which = answerer.answer("这个多少钱")  # nothing on stage, no product named
    assert which.status == "human" and "names no lineup product" in which.reason
    assert answerer.answer("主播多高").status == "human"  # about the host, not a product


def _gbk_csv(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    df = corpora.waimai().head(40)[["text", "label"]]
    path = tmp_path / "gbk.csv"
    path.write_bytes(df.to_csv(index=False).encode("gbk"))
    return path, df


_cli = run_cli


def test_nlp_score_detects_gbk_and_takes_an_encoding(tmp_path: Path, data_home: Path) -> None:
    path, df = _gbk_csv(tmp_path)
    out = tmp_path / "scored.csv"
    done = _cli(
        "nlp", "score", str(path), "--text-column", "text", "--out", str(out), "--json", home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["encoding"] == "gb18030"
    assert pd.read_csv(out)["text"].tolist() == df["text"].tolist()  # read as written, no mojibake
    wrong = _cli("nlp", "score", str(path), "--text-column", "text", "--encoding", "utf-8", home=tmp_path)
    assert wrong.returncode != 0 and "--encoding" in wrong.stderr and "Traceback" not in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    unknown = _cli("nlp", "score", str(path), "--text-column", "text", "--encoding", "klingon", home=tmp_path)
    assert unknown.returncode != 0 and "unknown encoding" in unknown.stderr
    review = _cli(
        "nlp", "score", str(path), "--text-column", "text", "--kind", "review", "--json", home=tmp_path
    )
    assert json.loads(review.stdout)["kind"] == "review"


def test_sessions_cli_lists_and_shows_a_finished_session(tmp_path: Path, data_home: Path) -> None:
    home = tmp_path / "home"
    events = pd.DataFrame(_session_events())
    src = tmp_path / "events.jsonl"
    events.to_json(src, orient="records", lines=True, force_ascii=False)
    done = _cli("live", "replay", str(src), "--speed", "0", "--session", "cli1", "--json", home=home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["gmv"] == 2396.0
    listed = _cli("live", "sessions", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert items[0]["session_id"] == "cli1" and items[0]["status"] == "ended"
    table = _cli("live", "sessions", home=home)
    assert "cli1" in table.stdout and "2,396.00" in table.stdout and "Asia/Shanghai" in table.stdout
    shown = _cli("live", "show", "cli1", home=home)
    assert shown.returncode == 0 and "2,396.00" in shown.stdout and "这个多少钱" in shown.stdout
    missing = _cli("live", "show", "nope", home=home)
    assert missing.returncode != 0 and "nope" in missing.stderr and "Traceback" not in missing.stderr
