"""The room's WebSocket gives each role what its HTTP routes give it, and only while its key is valid."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from live_support import LINEUP
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def _messages(ws, seconds: float) -> list[dict]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(json.loads(ws.recv(timeout=max(0.05, end - time.monotonic()))))
        except TimeoutError:
            break
    return out


def test_ingest_writes_blind_and_a_revoked_key_is_cut_off(live_server_factory, small_comment_model):
    srv = live_server_factory(env={"LIVELOOP_NLP_MODEL": str(small_comment_model)})
    assert srv.client("ingest").post("/v1/live/r1/open", json={"lineup": LINEUP}).status_code == 200
    base = srv.base_url.replace("http", "ws") + "/v1/live/r1/stream?api_key="
    assert srv.client("ingest").get("/v1/live/r1/state").status_code == 403  # as over HTTP …
    with connect(base + srv.key("ingest")) as ws:  # … so no snapshot over the socket either
        ws.send(json.dumps({"events": [{"type": "like", "ts": time.time(), "user_id": "w1"}]}))
        got = _messages(ws, 3)
        assert [m["type"] for m in got] == ["ack"] and got[0]["accepted"] == 1
    host = httpx.post(
        f"{srv.base_url}/v1/keys", json={"role": "host", "name": "leaving"}, headers=srv.headers("admin")
    ).json()
    with connect(base + host["key"]) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "state"
        revoked = httpx.delete(f"{srv.base_url}/v1/keys/{host['key_id']}", headers=srv.headers("admin"))
        assert revoked.status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            _messages(ws, 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
