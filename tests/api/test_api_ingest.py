"""Event collection over HTTP against a real server: statuses, bad input, idempotency, crash safety."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from liveloop.core.config import Settings
from liveloop.warehouse import Warehouse


def _events(n: int, prefix: str | None = None) -> list[dict]:
    prefix = prefix or uuid.uuid4().hex[:8]
    return [
        {
            "event_id": f"{prefix}-{i}",
            "ts": "2026-11-11T12:00:00+08:00",
            "user_id": f"u{i % 7}",
            "type": "purchase" if i % 5 == 0 else "view",
            "product_id": f"p{i % 11}",
            "amount": "19.90" if i % 5 == 0 else None,
            "channel": "live",
        }
        for i in range(n)
    ]


def _post(server, body, role="ingest", **headers):
    return httpx.post(
        f"{server.base_url}/v1/events", json=body, headers={**server.headers(role), **headers}, timeout=60
    )


def test_each_event_is_accepted_duplicate_or_rejected_with_its_reason(server):
    events = _events(3)
    events.append(
        {"event_id": events[0]["event_id"] + "-bad", "ts": "yesterday-ish", "user_id": "u1", "type": "view"}
    )
    events.append(
        {
            "event_id": events[0]["event_id"] + "-t",
            "ts": "2026-11-11T12:00:00Z",
            "user_id": "u1",
            "type": "teleport",
        }
    )
    events.append(dict(events[1]))
    resp = _post(server, {"events": events})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "accepted", "accepted", "rejected", "rejected", "duplicate"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 2)
    assert body["results"][3]["field"] == "ts"
    assert body["results"][4]["field"] == "type"
    assert body["results"][3]["reason"]
    again = _post(server, {"events": events[:3]}).json()  # committed: the retry loads nothing twice
    assert again["duplicates"] == 3 and again["accepted"] == 0


def test_bad_payloads_are_clear_4xx_problems(server):
    url, headers = (
        f"{server.base_url}/v1/events",
        {**server.headers("ingest"), "content-type": "application/json"},
    )
    cases = [
        (b'{"events": [', 400, "body"),
        (b'"just a string"', 422, None),
        (b'{"events": "nope"}', 422, "events"),
        (b'{"events": []}', 422, "events"),
        (b'{"events": [{"event_id": "x"}], "extra": 1}', 422, "extra"),
        (json.dumps({"events": [{**_events(1)[0], "colour": "red"}]}).encode(), 422, "events[0].colour"),
        (json.dumps({"events": _events(1001)}).encode(), 413, "events"),
    ]
    for raw, status, field in cases:
        resp = httpx.post(url, content=raw, headers=headers, timeout=60)
        assert resp.status_code == status, (raw[:60], resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        problem = resp.json()
        assert problem["status"] == status and problem["detail"]
        if field:
            assert problem["field"] == field, problem
    # nothing of the refused batch with an unknown field was written
    refused = [{**e, "colour": "red"} if i == 2 else e for i, e in enumerate(_events(3))]
    assert _post(server, {"events": refused}).status_code == 422
    assert _post(server, {"events": refused[:2]}).json()["accepted"] == 2


def test_oversized_bodies_are_413_declared_or_streamed(server):
    big = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    resp = httpx.post(
        f"{server.base_url}/v1/events",
        content=big,
        headers={**server.headers("ingest"), "content-type": "application/json"},
        timeout=60,
    )
    assert resp.status_code == 413

    def chunks():
        for _ in range(6):
            yield b" " * (1024 * 1024)

    resp = httpx.post(
        f"{server.base_url}/v1/events",
        content=chunks(),
        headers={**server.headers("ingest"), "content-type": "application/json"},
        timeout=60,
    )
    assert resp.status_code == 413
    assert resp.json()["title"] == "Content too large"


def test_a_stalled_upload_gets_408(live_server_factory):
    srv = live_server_factory(env={"LIVELOOP_BODY_TIMEOUT_S": "1"})
    key = srv.key("ingest")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"
            f'Content-Length: 1000\r\n\r\n{{"events": ['.encode()
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408"), reply[:200]
    assert "problem+json" in reply


def test_idempotency_key_replays_and_refuses_a_changed_body(server):
    key = uuid.uuid4().hex
    batch = {"events": _events(4)}
    first = _post(server, batch, **{"Idempotency-Key": key})
    second = _post(server, batch, **{"Idempotency-Key": key})
    assert first.json() == second.json() and first.json()["accepted"] == 4
    assert second.headers.get("idempotent-replayed") == "true"
    changed = _post(server, {"events": _events(2)}, **{"Idempotency-Key": key})
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"


def test_concurrent_retries_of_the_same_batch_load_each_event_once(server):
    batch = {"events": _events(200)}
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: _post(server, batch), range(6)))
    assert all(r.status_code == 200 for r in results)
    assert sum(r.json()["accepted"] for r in results) == 200
    assert sum(r.json()["duplicates"] for r in results) == 200 * 5


def test_every_acknowledged_event_survives_kill_9(live_server_factory):
    srv = live_server_factory()
    acked: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with srv.client("ingest", timeout=30) as client:
            n = 0
            while not stop.is_set():
                batch = _events(200, prefix=f"crash{n}")
                n += 1
                try:
                    resp = client.post("/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server died mid-request: this batch was never acknowledged
                if resp.status_code == 200:
                    acked.extend(r["id"] for r in resp.json()["results"] if r["status"] == "accepted")

    writer = threading.Thread(target=stream)
    writer.start()
    deadline = time.monotonic() + 60
    while len(acked) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill()
    stop.set()
    writer.join(30)
    assert len(acked) >= 1000
    settings = Settings(home=Path(srv.home), secret_key=srv.env["LIVELOOP_SECRET_KEY"])
    with Warehouse.open(settings) as wh:
        wh.con.register("acked", __import__("pyarrow").table({"event_id": acked}))
        missing = wh.sql("SELECT count(*) FROM acked a ANTI JOIN events e USING (event_id)")[0][0]
        dupes = wh.sql("SELECT count(*) - count(DISTINCT event_id) FROM events")[0][0]
    assert missing == 0
    assert dupes == 0
    srv.start()  # and the server comes back on the same warehouse
    assert httpx.get(f"{srv.base_url}/health").status_code == 200
    # its duplicate check starts afresh (the key index is rebuilt): a re-sent batch loads nothing twice
    resent = httpx.post(
        f"{srv.base_url}/v1/events",
        json={"events": _events(200, prefix="crash0")},
        headers=srv.headers("ingest"),
    )
    assert resent.status_code == 200 and resent.json()["duplicates"] == 200


def _metric(text: str, name: str, table: str) -> float:
    found = re.search(rf'^{name}\{{table="{table}"\}} (\S+)$', text, re.M)
    assert found, f"{name} for {table} missing from /metrics"
    return float(found.group(1))


def test_the_key_index_size_and_checks_are_in_metrics(server):
    batch = {"events": _events(30)}
    assert _post(server, batch).json()["accepted"] == 30
    before = httpx.get(f"{server.base_url}/metrics", headers=server.headers("analyst")).text
    assert _post(server, batch).json()["duplicates"] == 30  # every hash hits: checked by ts
    after = httpx.get(f"{server.base_url}/metrics", headers=server.headers("analyst")).text
    keys = _metric(after, "liveloop_ingest_key_index_keys", "events")
    assert keys >= 30
    assert _metric(after, "liveloop_ingest_key_index_bytes", "events") == 8 * keys
    hits = "liveloop_ingest_key_index_hash_hits_total"
    assert _metric(after, hits, "events") - _metric(before, hits, "events") == 30
    assert _metric(after, "liveloop_ingest_key_index_builds_total", "events") == 1


def test_segment_batches_become_events_and_users_idempotently(server):
    tag = uuid.uuid4().hex[:8]
    batch = {
        "sentAt": "2026-11-11T12:00:01Z",
        "batch": [
            {
                "type": "track",
                "messageId": f"{tag}-1",
                "userId": f"{tag}-u",
                "event": "Product Viewed",
                "timestamp": "2026-11-11T12:00:00Z",
                "properties": {"product_id": "p1"},
            },
            {
                "type": "identify",
                "messageId": f"{tag}-2",
                "userId": f"{tag}-u",
                "timestamp": "2026-11-11T12:00:00Z",
                "traits": {"email": "a@example.cn", "gender": "female"},
            },
            {
                "type": "track",
                "messageId": f"{tag}-3",
                "userId": f"{tag}-u",
                "event": "Order Completed",
                "timestamp": "not a time",
                "properties": {"revenue": "9.90"},
            },
        ],
    }
    url = f"{server.base_url}/v1/segment/batch"
    first = httpx.post(url, json=batch, headers=server.headers("ingest"), timeout=60)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "rejected"]
    assert body["results"][2]["field"]
    assert [r.get("id") for r in body["results"][:2]] == [f"{tag}-1", f"{tag}-u"]  # identify: its user

    def resend(_: int) -> dict:
        resp = httpx.post(url, json=batch, headers=server.headers("ingest"), timeout=60)
        assert resp.status_code == 200, resp.text
        return resp.json()

    with ThreadPoolExecutor(3) as pool:  # the whole batch again, concurrently (so also group-committed)
        for again in pool.map(resend, range(3)):
            assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "rejected"]
            assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 2, 1)
    user = httpx.get(f"{server.base_url}/v1/users/{tag}-u", headers=server.headers("analyst")).json()
    assert user["email"] == "***" and user["gender"] == "female"
    assert httpx.post(url, json={"batch": "x"}, headers=server.headers("ingest")).status_code == 422


def test_a_segment_batch_over_1000_messages_is_413_and_writes_nothing(server):
    tag = uuid.uuid4().hex[:8]
    messages = [
        {
            "type": "track",
            "messageId": f"{tag}-{i}",
            "userId": "u1",
            "event": "Product Viewed",
            "timestamp": "2026-11-11T12:00:00Z",
        }
        for i in range(1001)
    ]
    url = f"{server.base_url}/v1/segment/batch"
    resp = httpx.post(url, json={"batch": messages}, headers=server.headers("ingest"), timeout=60)
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == "batch" and "1,000" in resp.json()["detail"]
    # nothing of the refused batch was loaded: its messages are new, not duplicates
    first = httpx.post(url, json={"batch": messages[:1000]}, headers=server.headers("ingest"), timeout=60)
    assert first.status_code == 200 and first.json()["accepted"] == 1000


def _raw_post(server, path: str, body: bytes):
    headers = {**server.headers("ingest"), "Content-Type": "application/json"}
    return httpx.post(f"{server.base_url}{path}", content=body, headers=headers, timeout=60)


def test_lone_surrogates_and_odd_traits_are_kept_or_rejected_never_a_500(server):
    tag = uuid.uuid4().hex[:8]
    events = [
        {"event_id": f"{tag}-1", "ts": "2026-11-11T12:00:00+08:00", "user_id": "u\ud800", "type": "view"},
        {"event_id": f"{tag}-2", "ts": "2026-11-11T12:00:00+08:00", "user_id": f"{tag}-u", "type": "comment",
         "text": "\udcff lone"},
    ]  # fmt: skip
    body = json.dumps({"events": events}).encode()  # ASCII JSON with the lone surrogates as escapes
    r = _raw_post(server, "/v1/events", body)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]
    assert r.json()["results"][0]["field"] == "user_id"
    messages = [
        {"type": "identify", "userId": f"{tag}-s", "traits": "just a string", "messageId": f"{tag}-m1"},
        {
            "type": "track",
            "userId": f"{tag}-s",
            "event": "x\ud800",
            "properties": [1],
            "messageId": f"{tag}-m2",
        },
        {
            "type": "identify",
            "userId": f"{tag}-p",
            "messageId": f"{tag}-m3",
            "traits": {
                "address": {"street": "1 Secret Road", "city": "杭州"},
                "birthday": "1990-01-01",
                "Mobile": "13800001111",
                "Email": "A@b.cn",
            },
        },
    ]
    r = _raw_post(server, "/v1/batch", json.dumps({"batch": messages}).encode())
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "rejected", "accepted"]
    assert r.json()["results"][1]["field"] == "type"  # "x\ufffd" is no event type
    analyst = server.headers("analyst")
    user = httpx.get(f"{server.base_url}/v1/users/{tag}-p", headers=analyst).json()
    assert user["phone"] == "***" and user["email"] == "***" and user["region"] == "杭州"
    shown = json.dumps(user, ensure_ascii=False)
    for secret in ("Secret Road", "1990-01-01", "13800001111", "A@b.cn"):
        assert secret not in shown
    odd = httpx.get(f"{server.base_url}/v1/users/{tag}-s", headers=analyst).json()
    assert odd["props"] == {"value": "just a string"}


def test_times_without_an_offset_are_read_in_the_zone_the_request_names_and_said_so(server):
    uid = f"tz-{uuid.uuid4().hex[:8]}"
    naive = {"event_id": f"{uid}-1", "user_id": uid, "type": "view", "ts": "2026-05-01T10:00:00"}
    offset = {"event_id": f"{uid}-2", "user_id": uid, "type": "view", "ts": "2026-05-01T10:00:00+08:00"}
    with server.client("ingest") as app, server.client("admin") as admin:
        shanghai = app.post(
            "/v1/events", params={"source_tz": "Asia/Shanghai"}, json={"events": [naive, offset]}
        )
        assert shanghai.status_code == 200, shanghai.text
        assert shanghai.json()["naive_timestamps"] == 1 and shanghai.json()["read_in"] == "Asia/Shanghai"
        plain = app.post("/v1/events", json={"events": [{**naive, "event_id": f"{uid}-3"}]})
        assert plain.json()["naive_timestamps"] == 1 and plain.json()["read_in"] == "UTC"  # said, not silent
        assert "naive_timestamps" not in app.post("/v1/events", json={"events": [offset]}).json()
        bad = app.post("/v1/events", params={"source_tz": "Mars/Olympus"}, json={"events": [naive]})
        assert bad.status_code == 400 and bad.json()["field"] == "source_tz"
        stored = {
            e["event_id"]: e["ts"] for e in admin.get(f"/v1/users/{uid}/export").json()["tables"]["events"]
        }
    assert stored[f"{uid}-1"].startswith("2026-05-01T02:00:00") and stored[f"{uid}-2"] == stored[f"{uid}-1"]
    assert stored[f"{uid}-3"].startswith("2026-05-01T10:00:00")
