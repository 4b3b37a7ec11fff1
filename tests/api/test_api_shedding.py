"""Load shedding on the write routes: a client past its rate gets 429, writes past the in-flight cap get
503, both with Retry-After and before their body is read; reads go on meanwhile."""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor


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


def test_reads_go_first_only_under_write_pressure() -> None:
    """The middleware alone (its clock moved by hand): a few writes beside reads all pass; once a write
    has been refused, writes in progress are held to ``busy_inflight`` while reads come in."""
    from liveloop.http.shedding import WriteShedder

    async def scenario() -> None:
        gate = asyncio.Event()

        async def app(scope, receive, send) -> None:
            if scope["method"] == "POST":
                await gate.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        shed = WriteShedder(app, max_inflight=3, busy_inflight=1, rate=1e6, burst=1e6)

        async def call(method: str) -> int:
            sent: list[dict] = []

            async def send(message: dict) -> None:
                sent.append(message)

            path = "/v1/events" if method == "POST" else "/v1/users"
            scope = {"type": "http", "method": method, "path": path, "headers": [(b"x-api-key", b"k")],
                     "client": ("127.0.0.1", 1)}  # fmt: skip
            await shed(scope, None, send)
            return int(sent[0]["status"])

        async def writes(n: int) -> list[asyncio.Task[int]]:
            tasks = [asyncio.create_task(call("POST")) for _ in range(n)]
            await asyncio.sleep(0.01)
            return tasks

        assert await call("GET") == 200
        first = await writes(3)  # reads came in, nothing refused yet: the full cap
        assert shed.inflight == 3 and await call("POST") == 503  # past the cap: refused, now under pressure
        gate.set()
        assert [await t for t in first] == [200, 200, 200]
        gate.clear()
        assert await call("GET") == 200
        held = await writes(1)
        assert await call("POST") == 503  # pressure and reads: one write at a time
        shed.last_refusal -= 2  # a second later, nothing refused meanwhile
        more = await writes(1)
        assert shed.inflight == 2
        gate.set()
        assert [await t for t in held + more] == [200, 200]

    with ThreadPoolExecutor(1) as pool:  # its own event loop (a browser test may hold this thread's)
        pool.submit(asyncio.run, scenario()).result()
