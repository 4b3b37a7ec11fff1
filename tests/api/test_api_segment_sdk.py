"""The official Segment Python SDK, unchanged but for its host, sends to a real liveloop server."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from segment.analytics import Client
from segment.analytics.request import APIError

from liveloop.core.crypto import load_cipher
from liveloop.warehouse import Warehouse


def test_segment_sdk_tracks_identifies_and_pages_with_its_write_key(live_server_factory):
    srv = live_server_factory()
    write_key = srv.key("ingest")
    errors: list[Exception] = []
    client = Client(
        write_key, host=srv.base_url, sync_mode=True, max_retries=0, on_error=lambda e, _: errors.append(e)
    )
    client.identify("u-seg-1", {"email": "lin@example.cn", "phone": "13800138000", "gender": "female"})
    client.track("u-seg-1", "Product Viewed", {"product_id": "p-7", "channel": "live"})
    client.track("u-seg-1", "Order Completed", {"product_id": "p-7", "revenue": 59.9, "quantity": 2})
    client.page("u-seg-1", "Shop", "Home", {"url": "https://shop.example.cn/"})
    client.track(anonymous_id="anon-9", event="Product Clicked", properties={"sku": "p-8"})
    client.flush()
    assert errors == []

    # the single-message paths, with the key as Basic auth as curl -u KEY: sends it
    basic = {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
    msg = {
        "userId": "u-seg-2",
        "event": "Product Added",
        "messageId": uuid.uuid4().hex,
        "properties": {"sku": "p-1"},
    }
    msg["timestamp"] = "2026-11-11T20:00:00+08:00"
    resp = httpx.post(f"{srv.base_url}/v1/track", json=msg, headers=basic, timeout=30)
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, resp.text
    bare = {"userId": "u-seg-2", "name": "Live"}  # no messageId, no timestamp: the server stamps them
    for _ in range(2):
        page = httpx.post(f"{srv.base_url}/v1/page", json=bare, headers=basic, timeout=30)
        assert page.status_code == 200 and page.json()["accepted"] == 1, page.text
    wrong = httpx.post(
        f"{srv.base_url}/v1/identify", json={**msg, "type": "track"}, headers=basic, timeout=30
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "type"
    bad_key = {"Authorization": "Basic " + base64.b64encode(b"not-a-key:").decode()}
    refused = httpx.post(f"{srv.base_url}/v1/batch", json={"batch": [msg]}, headers=bad_key, timeout=30)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    garbled = httpx.post(
        f"{srv.base_url}/v1/batch", json={"batch": [msg]}, headers={"Authorization": "Basic %%%"}, timeout=30
    )
    assert garbled.status_code == 401  # malformed Basic credentials: refused, never a 500
    analyst = Client(srv.key("analyst"), host=srv.base_url, sync_mode=True, max_retries=0)
    with pytest.raises(APIError) as refused_sdk:  # an analyst key may not ingest
        analyst.track("u-seg-3", "Product Viewed", {"product_id": "p-9"})
    assert refused_sdk.value.status == 403

    srv.stop()
    settings = srv.settings
    with Warehouse.open(settings) as wh:
        events = wh.sql(
            "SELECT type, user_id, product_id, amount, quantity, channel FROM events ORDER BY ts, type"
        )
        user = wh.sql(
            "SELECT gender, email_enc, phone_enc, phone_index, props FROM users WHERE user_id = 'u-seg-1'"
        )
    kinds = sorted((t, u, p) for t, u, p, *_ in events)
    assert kinds == [
        ("add_to_cart", "u-seg-2", "p-1"),
        ("click", "anon-9", "p-8"),
        ("page", "u-seg-1", None),
        ("page", "u-seg-2", None),
        ("page", "u-seg-2", None),
        ("purchase", "u-seg-1", "p-7"),
        ("view", "u-seg-1", "p-7"),
    ]
    purchase = next(e for e in events if e[0] == "purchase")
    assert float(purchase[3]) == 59.9 and purchase[4] == 2
    assert next(e for e in events if e[0] == "view")[5] == "live"
    gender, email_enc, phone_enc, phone_index, props = user[0]
    cipher = load_cipher(settings, create=False)
    assert gender == "female" and phone_index == cipher.blind_index("13800138000")
    assert b"lin@example.cn" not in bytes(email_enc) and b"13800138000" not in bytes(phone_enc)
    assert cipher.decrypt(bytes(email_enc), context="users.email") == "lin@example.cn"
    assert "13800138000" not in json.dumps(props) and "lin@example.cn" not in json.dumps(props)
    assert b"13800138000" not in (srv.home / "liveloop.duckdb").read_bytes()
