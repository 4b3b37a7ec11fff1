"""The live copilot faces for real: uvicorn API + WebSocket, a Bilibili replay, Live Monitor in Chromium."""

from __future__ import annotations

import json
import os
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
    r = ingest.post("/v1/live/ghost/events", json={"events": [{"type": "like", "ts": 1}]})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "session_id"
    assert ingest.post("/v1/live/room1/open", json={"lineup": LINEUP}).status_code == 200
    r = ingest.post("/v1/live/room1/events", json={"events": [{"type": "teleport", "ts": 1}]})
    assert r.status_code == 422 and r.json()["field"] == "events[0].type"
    assert (
        srv.client("marketer")
        .post("/v1/live/room1/events", json={"events": [{"type": "like", "ts": 1}]})
        .status_code
        == 403
    )
    odd = [
        {"type": "comment", "ts": 1.0 + i, "user_id": f"x{i}", "text": t}
        for i, t in enumerate(["", "   ", "x" * 100_000, "😀😀", "\ufffd broken"])
    ]
    assert ingest.post("/v1/live/room1/events", json={"events": odd}).json()["accepted"] == 5
    surrogate = b'{"events": [{"type": "comment", "ts": 9, "user_id": "s", "text": "\\udcff lone"}]}'
    r = ingest.post("/v1/live/room1/events", content=surrogate, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    invalid = b'{"events": [{"type": "comment", "ts": 9, "user_id": "s", "text": "\xff\xfe"}]}'
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
        assert page.locator("#live-advice li").count() >= 1
        page.screenshot(path=str(tmp_path / "live-monitor.png"), full_page=True)
        assert (tmp_path / "live-monitor.png").stat().st_size > 10_000
        assert page.console_errors == []

        ws_url = srv.base_url.replace("http", "ws") + f"/v1/live/room1/stream?api_key={srv.key('ingest')}"
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
    late = srv.client("ingest").post("/v1/live/room1/events", json={"events": [{"type": "like", "ts": 1}]})
    assert late.status_code == 409
    assert 'reason="ended_session"' in srv.client("analyst").get("/metrics").text
    with httpx.Client(base_url=srv.base_url) as anon:
        assert anon.post("/v1/live/room1/events", json={"events": []}).status_code == 401
