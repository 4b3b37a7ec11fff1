"""The live copilot faces for real: uvicorn API + WebSocket, a Bilibili replay, Live Monitor in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from live_support import LINEUP, model_dir
from websockets.sync.client import connect

from liveloop.live.replay import bilibili_events

EARLY = 1_640_000_000.0  # 2021-12-20: before the replayed evening (2021-12-30)


def test_bilibili_evening_parses_into_real_events(data_home: Path) -> None:
    df = bilibili_events(11365)
    counts = df["type"].value_counts().to_dict()
    assert counts["comment"] == 41_113 + 159  # danmaku + super-chat messages (SOURCE.md)
    assert counts["viewers"] > 1000 and counts["gift"] > 1000
    assert df["ts"].is_monotonic_increasing
    assert 4 * 3600 < df["ts"].iloc[-1] - df["ts"].iloc[0] < 5 * 3600


def _replay(srv: Any, key: str, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "LIVELOOP_NLP_MODEL": str(model_dir())}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liveloop.cli.main",
            "live",
            "replay",
            "bilibili",
            "--speed",
            "50",
            "--session",
            "room1",
            "--url",
            srv.base_url,
            "--api-key",
            key,
            "--limit-s",
            str(seconds),
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_api_websocket_and_live_monitor_during_a_replay(
    live_server_factory: Callable[..., Any],
    browser_page: Any,
    dashboard_login: Callable[..., None],
    tmp_path: Path,
    data_home: Path,
) -> None:
    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": str(model_dir())})
    host, ingest = srv.client("host"), srv.client("ingest")
    # bad input first: unknown session, bad event, wrong role
    r = ingest.post("/v1/live/ghost/events", json={"events": [{"type": "like", "ts": EARLY}]})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "session_id"
    assert ingest.post("/v1/live/room1/open", json={"lineup": LINEUP}).status_code == 200
    r = ingest.post("/v1/live/room1/events", json={"events": [{"type": "teleport", "ts": EARLY}]})
    assert r.status_code == 422 and r.json()["field"] == "events[0].type"
    for ts in (1e20, -5, 1, "9999-12-31T00:00:00Z", "0001-01-01"):  # a bad time never moves the room clock
        r = ingest.post("/v1/live/room1/events", json={"events": [{"type": "like", "ts": ts}]})
        assert r.status_code == 422 and r.json()["field"] == "events[0].ts", (ts, r.text)
    assert (
        srv.client("marketer")
        .post("/v1/live/room1/events", json={"events": [{"type": "like", "ts": EARLY}]})
        .status_code
        == 403
    )
    odd = [
        {"type": "comment", "ts": EARLY + i, "user_id": f"x{i}", "text": t}
        for i, t in enumerate(["", "   ", "x" * 100_000, "😀😀", "\ufffd broken"])
    ]
    assert ingest.post("/v1/live/room1/events", json={"events": odd}).json()["accepted"] == 5
    surrogate = b'{"events": [{"type": "comment", "ts": 1640000009, "user_id": "s", "text": "\\udcff lone"}]}'
    r = ingest.post("/v1/live/room1/events", content=surrogate, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    invalid = b'{"events": [{"type": "comment", "ts": 1640000009, "user_id": "s", "text": "\xff\xfe"}]}'
    r = ingest.post("/v1/live/room1/events", content=invalid, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")

    replay = _replay(srv, srv.key("ingest"), 10)
    try:
        page = browser_page
        page.goto(f"{srv.base_url}/live?session=room1")
        dashboard_login(page, srv, "host")
        page.goto(f"{srv.base_url}/live?session=room1")
        page.wait_for_function(
            "Number(document.getElementById('live-status').dataset.updates || 0) >= 3", timeout=60_000
        )
        page.wait_for_function(
            "document.querySelectorAll('#live-questions li:not(.empty)').length > 0", timeout=60_000
        )
        assert page.inner_text("#kpi-viewers") not in ("", "—")
        assert page.locator("#chart-sentiment .main-svg").count() > 0
        # product heat: one bar group per lineup product (Plotly draws the x-axis tick labels)
        assert page.locator("#chart-heat .main-svg").count() > 0
        ticks = page.eval_on_selector_all("#chart-heat .xtick text", "els => els.map(e => e.textContent)")
        assert {p["name"] for p in LINEUP} <= set(ticks)
        legend = page.eval_on_selector_all("#chart-heat .legendtext", "els => els.map(e => e.textContent)")
        assert legend == ["提及", "点击", "购买"]  # the page's language, not the data's keys
        # alerts: the sold-out air fryer raises a stock alert
        alerts = page.locator("#live-alerts li:not(.empty)").all_inner_texts()
        assert any("空气炸锅" in a and "已售罄" in a for a in alerts)  # the alert in the page's language
        assert page.locator("#live-alerts li.sev-high").count() >= 1
        assert page.locator("#live-advice li").count() >= 1
        page.screenshot(path=str(tmp_path / "live-monitor.png"), full_page=True)
        assert (tmp_path / "live-monitor.png").stat().st_size > 10_000
        assert page.console_errors == []

        ws_url = srv.base_url.replace("http", "ws") + f"/v1/live/room1/stream?api_key={srv.key('host')}"
        with connect(ws_url, max_size=2**24) as ws:
            state = json.loads(ws.recv(timeout=30))
            assert state["type"] == "state" and state["processed"] > 0
            ws.send(
                json.dumps(
                    {"events": [{"type": "comment", "ts": time.time(), "user_id": "ws", "text": "包邮吗"}]}
                )
            )
            for _ in range(50):
                msg = json.loads(ws.recv(timeout=30))
                if msg["type"] == "ack":
                    assert msg["accepted"] == 1
                    break
            ws.send("not json")
            for _ in range(50):
                msg = json.loads(ws.recv(timeout=30))
                if msg["type"] == "error":
                    assert msg["status"] == 422
                    break
    finally:
        out, err = replay.communicate(timeout=120)
    assert replay.returncode == 0, err
    result = json.loads(out)
    assert result["events"] > 500 and result["dropped"] == 0

    snap = host.get("/v1/live/room1/state").json()
    assert snap["processed"] >= result["events"] and snap["windows"]["5min"]["comments"] > 0
    assert snap["latency_p99_s"] < 30
    metrics = srv.client("analyst").get("/metrics").text
    assert 'liveloop_live_dropped_total{reason="queue_full"}' in metrics
    assert "liveloop_live_processed_total" in metrics
    ended = host.post("/v1/live/room1/end")
    assert ended.status_code == 200 and ended.json()["ended"] is True
    summary = ended.json()["summary"]
    assert summary["comments"] > 100 and summary["peak_viewers"] > 0 and summary["minutes"] >= 1
    # the room's data outlives end: listed, read back from the warehouse, shown by the Live Monitor
    listed = srv.client("analyst").get("/v1/live/sessions", params={"status": "ended"}).json()
    assert listed["items"][0]["session_id"] == "room1" and listed["items"][0]["comments"] > 100
    kept = srv.client("analyst").get("/v1/live/room1/summary").json()
    assert kept["summary"]["comments"] == summary["comments"] and len(kept["minutes"]) == summary["minutes"]
    assert kept["questions"] and all(q["askers"] >= 1 for q in kept["questions"])
    bad = srv.client("analyst").get("/v1/live/sessions", params={"status": "soon"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"
    assert srv.client("analyst").get("/v1/live/ghost/summary").status_code == 404
    page.goto(f"{srv.base_url}/live")
    page.click("#recent-sessions a[href='/live?session=room1']")
    page.wait_for_selector("#finished-session")
    assert page.inner_text("#kpi-comments") == f"{summary['comments']:,}"
    page.wait_for_selector("#finished-session ~ section .main-svg")
    assert page.locator("#finished-questions tbody tr").count() >= 1
    dates = " ".join(page.eval_on_selector_all(".xtick text", "els => els.map(e => e.textContent)"))
    assert dates and not re.search(r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec", dates)  # zh-CN locale
    assert "直播复盘" in page.inner_text("h1") and page.console_errors == []
    page.screenshot(path=str(tmp_path / "live-review.png"), full_page=True)
    late = srv.client("ingest").post(
        "/v1/live/room1/events", json={"events": [{"type": "like", "ts": EARLY}]}
    )
    assert late.status_code == 409
    assert 'reason="ended_session"' in srv.client("analyst").get("/metrics").text
    with httpx.Client(base_url=srv.base_url) as anon:
        assert anon.post("/v1/live/room1/events", json={"events": []}).status_code == 401


def test_ask_lottery_and_score_endpoints(live_server_factory: Callable[..., Any], data_home: Path) -> None:
    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": str(model_dir())})
    host, ingest, analyst = srv.client("host"), srv.client("ingest"), srv.client("analyst")
    faq = {"question": "精华怎么用", "answer": "洁面后取2-3滴，轻拍吸收", "product_id": "p-serum"}
    assert ingest.post("/v1/live/shop/open", json={"lineup": LINEUP, "faqs": [faq]}).status_code == 200

    r = host.post("/v1/live/shop/ask", json={"question": "大衣是什么材质？", "product_id": "p-coat"})
    assert r.status_code == 200 and r.json()["status"] == "answered" and "羊毛" in r.json()["answer"]
    assert r.json()["compliance"]["verdict"] == "pass" and r.json()["entry_id"] == "p-coat:material"
    r = host.post("/v1/live/shop/ask", json={"question": "主播今天几点下播"})
    assert r.json()["status"] == "human" and "below threshold" in r.json()["reason"]
    assert host.get("/v1/live/shop/state").json()["human_queue"][-1]["question"] == "主播今天几点下播"
    too_long = host.post("/v1/live/shop/ask", json={"question": "问" * 2001})
    assert too_long.status_code == 422 and too_long.json()["field"] == "question"
    assert host.post("/v1/live/ghost/ask", json={"question": "包邮吗"}).status_code == 404
    assert ingest.post("/v1/live/shop/ask", json={"question": "包邮吗"}).status_code == 403

    t0 = time.time()
    events = [{"type": "enter", "ts": t0, "user_id": f"v{i}"} for i in range(10)]
    events += [{"type": "like", "ts": t0 + 600, "user_id": f"v{i}"} for i in range(8)]
    events += [{"type": "leave", "ts": t0 + 700, "user_id": f"v{i}"} for i in (8, 9)]  # never engaged
    events += [
        {"type": "enter", "ts": t0 + 590, "user_id": "late"},
        {"type": "like", "ts": t0 + 600, "user_id": "late"},
    ]
    assert ingest.post("/v1/live/shop/events", json={"events": events}).json()["accepted"] == len(events)
    body = {"seed": 11, "winners": 3, "min_watch_minutes": 5, "min_engagement": 1}
    first = host.post("/v1/live/shop/lottery", json=body)
    assert first.status_code == 200, first.text
    draw = first.json()
    assert draw["eligible"] == 8 and len(draw["winners"]) == 3 and draw["seed"] == 11
    assert draw["excluded"] == {"not_engaged": 2, "watched_too_little": 1}
    assert {w["user_id"] for w in draw["winners"]} <= {f"v{i}" for i in range(8)}
    assert all("seed 11" in w["reason"] for w in draw["winners"])
    again = host.post("/v1/live/shop/lottery", json=body).json()
    assert again["excluded"]["repeat_winner"] == 3 and len(again["winners"]) == 3
    assert not {w["user_id"] for w in draw["winners"]} & {w["user_id"] for w in again["winners"]}
    bad = host.post("/v1/live/shop/lottery", json={"seed": -1})
    assert bad.status_code == 422 and bad.json()["field"] == "seed"
    assert host.post("/v1/live/shop/lottery", json={"seed": 1, "winners": 0}).status_code == 422
    assert analyst.post("/v1/live/shop/lottery", json={"seed": 1}).status_code == 403

    texts = ["3号链接多少钱", "质量太差了，退货！", "", "this coat is lovely"]
    scored = analyst.post("/v1/nlp/score", json={"texts": texts, "lineup": LINEUP})
    assert scored.status_code == 200
    rows = scored.json()["results"]
    assert [r["text"] for r in rows] == [
        "3号链接多少钱",
        "质量太差了,退货!",
        "",
        "this coat is lovely",
    ]  # NFKC
    assert rows[0]["intent"] == "price_question" and rows[0]["product_mention"] == "p-fryer"
    assert rows[1]["sentiment"] == "negative" and rows[2]["sentiment"] == "neutral"
    assert rows[3]["lang"] == "en" and rows[3]["product_mention"] == "p-coat"
    for bad_body, field in (({"texts": []}, "texts"), ({}, "texts"), ({"texts": ["a"] * 10_001}, "texts")):
        r = analyst.post("/v1/nlp/score", json=bad_body)
        assert r.status_code == 422 and r.json()["field"] == field
    assert srv.client("ingest").post("/v1/nlp/score", json={"texts": ["好"]}).status_code == 403


def test_a_fresh_server_trains_its_model_in_the_background(live_server_factory: Callable[..., Any]) -> None:
    # a home with no comment model at all, and the default: train one on first use
    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": "", "LIVELOOP_NLP_AUTOTRAIN": "on"})
    r = srv.client("analyst").post("/v1/nlp/score", json={"texts": ["好用"]})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "model" and int(r.headers["retry-after"]) > 0
    assert "being trained" in r.json()["detail"] and r.json()["model"]["state"] == "training"
    ingest = srv.client("ingest")
    assert ingest.post("/v1/live/r/open", json={"lineup": LINEUP}).status_code == 200
    event = {"type": "comment", "ts": time.time(), "user_id": "u", "text": "多少钱"}
    assert ingest.post("/v1/live/r/events", json={"events": [event]}).json()["accepted"] == 1
    state = srv.client("host").get("/v1/live/r/state").json()
    assert state["model"]["state"] == "training" and state["queued"] == 1 and state["processed"] == 0
    assert "training one in the background" in srv.log_tail()


def test_a_server_told_not_to_train_says_how_to_get_a_model(live_server_factory: Callable[..., Any]) -> None:
    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": "", "LIVELOOP_NLP_AUTOTRAIN": "off"})
    r = srv.client("analyst").post("/v1/nlp/score", json={"texts": ["好用"]})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "model" and "liveloop nlp train" in r.json()["detail"]
    assert r.json()["model"]["state"] == "missing"
    assert "training one in the background" not in srv.log_tail()
    # `liveloop nlp train` writes the model into the home: the running server picks it up
    shutil.copytree(model_dir(), srv.home / "models" / "nlp" / "test")
    (srv.home / "models" / "nlp" / "LATEST").write_text("test")
    scored = srv.client("analyst").post("/v1/nlp/score", json={"texts": ["好用"]})
    assert scored.status_code == 200, scored.text


def test_a_server_stopping_writes_what_its_rooms_had_pending(
    live_server_factory: Callable[..., Any], data_home: Path
) -> None:
    """SIGTERM mid-session: the hub stops and its recorder writes every processed event before the
    warehouse closes (the recorder flushes about once a second; a stop must not lose that second)."""
    from liveloop.core.config import Settings
    from liveloop.warehouse import Warehouse

    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": str(model_dir())})
    ingest = srv.client("ingest")
    assert ingest.post("/v1/live/stopme/open", json={"lineup": LINEUP}).status_code == 200
    t0 = time.time()
    events = [{"type": "comment", "ts": t0 + i, "user_id": f"v{i}", "text": "好看"} for i in range(50)]
    assert ingest.post("/v1/live/stopme/events", json={"events": events}).json()["accepted"] == 50
    deadline = time.monotonic() + 30
    while srv.client("host").get("/v1/live/stopme/state").json()["processed"] < 50:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    srv.stop()
    settings = Settings(home=srv.home, data_home=data_home, secret_key=srv.env["LIVELOOP_SECRET_KEY"])
    with Warehouse.open(settings, read_only=True) as wh:
        assert wh.sql("SELECT count(*) FROM events WHERE session_id = 'stopme'")[0][0] == 50
        assert (
            wh.sql("SELECT count(*) FROM comments WHERE session_id = 'stopme' AND sentiment IS NOT NULL")[0][
                0
            ]
            == 50
        )


def test_a_session_the_copilot_ends_gets_its_post_live_report(
    live_server_factory, small_comment_model
) -> None:
    """The service writes the post-live report of a room the copilot ends (reports pass every second)."""
    srv = live_server_factory(env={"LIVELOOP_REPORTS_EVERY_S": "1", "LIVELOOP_NLP_MODEL": str(model_dir())})
    t0 = time.time() - 600
    events = [{"type": "enter", "ts": t0 + i, "user_id": f"u{i}"} for i in range(5)] + [
        {"type": "comment", "ts": t0 + 60 + i, "user_id": f"u{i}", "text": text}
        for i, text in enumerate(["好看", "多少钱", "质量太差了", "怎么发货", "主播好美"])
    ]
    with srv.client("host") as host:
        assert host.post("/v1/live/r1/open", json={}).status_code == 200
        assert host.post("/v1/live/r1/events", json={"events": events}).status_code == 200
        assert host.post("/v1/live/r1/end").status_code == 200
        deadline, found = time.monotonic() + 30, []
        while time.monotonic() < deadline and not found:
            found = host.get("/v1/reports", params={"kind": "post_live", "subject": "r1"}).json()["items"]
            time.sleep(0.5)
        assert found, srv.log_tail()
        data = host.get(f"/v1/reports/{found[0]['report_id']}").json()["data"]
        assert data["ran_by_copilot"] and sum(m["comments"] for m in data["minutes"]) == 5
