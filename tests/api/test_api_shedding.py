"""Load shedding on the write routes: a client past its rate gets 429, writes past the in-flight cap get
503, both with Retry-After and before their body is read; reads go on meanwhile."""

from __future__ import annotations

import socket
import time


def _stalled_upload(server) -> socket.socket:
    """A write whose body never finishes arriving: it stays in flight."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    key = server.key("ingest")
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
        + f"X-API-Key: {key}\r\n\r\n".encode()
        + b'{"events": ['
    )
    return sock


def test_writes_are_shed_with_retry_after_and_reads_go_on(live_server_factory) -> None:
    server = live_server_factory(
        env={"LIVELOOP_MAX_WRITES_INFLIGHT": "2", "LIVELOOP_WRITE_RATE": "2", "LIVELOOP_WRITE_BURST": "6"}
    )
    event = {"events": [{"event_id": "e1", "user_id": "u1", "type": "view", "ts": "2026-05-01T10:00:00Z"}]}
    with server.client("ingest") as app, server.client("analyst") as reader:
        codes = [app.post("/v1/events", json=event).status_code for _ in range(10)]
        assert codes[:6] == [200] * 6 and 429 in codes[6:]  # the burst passes, then the rate holds
        limited = app.post("/v1/events", json=event)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.headers["x-content-type-options"] == "nosniff"
        time.sleep(3.5)  # the bucket refills
        stalled = [_stalled_upload(server) for _ in range(2)]
        try:
            time.sleep(0.5)
            busy = app.post("/v1/events", json=event)  # two writes in flight already: the cap
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            started = time.perf_counter()
            assert reader.get("/v1/retention").status_code == 200  # reads are not behind the writes
            assert time.perf_counter() - started < 5
        finally:
            for sock in stalled:
                sock.close()
        for _ in range(50):
            time.sleep(0.2)
            if app.post("/v1/events", json=event).status_code == 200:
                break
        else:
            raise AssertionError("writes were not admitted again after the stalled ones went")
