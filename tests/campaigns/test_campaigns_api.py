"""The campaign API on a real server: a marketer drafts, an admin approves, the server's delivery loop
sends through a real webhook receiver, the unsubscribe link works without a key, and bad input gets
problem+json naming the field."""

from __future__ import annotations

import time

import httpx
import pytest
from profiles_shop import seed_built_shop

from conftest import SECRET, add_contacts
from liveloop.core.crypto import cipher_of, generate_key

pytestmark = pytest.mark.slow


def test_a_campaign_through_the_api_from_draft_to_report(live_server_factory, webhook) -> None:
    rec, url = webhook
    key = generate_key()

    def seed(wh) -> None:
        seed_built_shop(wh)
        add_contacts(wh, cipher_of(key))

    srv = live_server_factory(seed=seed, env={"LIVELOOP_SECRET_KEY": key, "LIVELOOP_DELIVERY_EVERY_S": "1"})
    admin, marketer, ingest = srv.client("admin"), srv.client("marketer"), srv.client("ingest")
    assert admin.put(
        "/v1/channels/app_push", json={"kind": "webhook", "config": {"url": url}, "secret": SECRET}
    ).is_success
    users = [u["user_id"] for u in admin.get("/v1/profiles", params={"limit": 3}).json()["users"]]
    for u in users:
        r = ingest.post(
            f"/v1/users/{u}/consents",
            json={"changes": [{"purpose": "marketing", "status": "granted", "channel": "app_push"}]},
        )
        assert r.is_success, r.text

    bad = marketer.post("/v1/audiences", json={"name": "x", "rule": "shoe_size > 40"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "rule", bad.text and "unknown feature 'shoe_size'" in bad.json()["detail"]
    aud = marketer.post("/v1/audiences", json={"name": "three", "users": users})
    assert aud.status_code == 201, aud.text
    preview = marketer.get(
        f"/v1/audiences/{aud.json()['audience_id']}", params={"channel": "app_push"}
    ).json()
    assert preview["preview"]["size"] == 3 and preview["preview"]["reachable"] == 3

    draft = {
        "name": "上新预告",
        "audience_id": aud.json()["audience_id"],
        "channels": ["app_push"],
        "body": "{{ name }}，今晚 8 点直播上新",
        "holdout": 0,
        "policy": {"quiet_start": 0, "quiet_end": 0},
    }
    no_sms = marketer.post("/v1/campaigns", json=draft | {"channels": ["sms"]})
    assert no_sms.status_code == 422 and no_sms.json()["field"] == "channels"
    made = marketer.post("/v1/campaigns", json=draft)
    assert made.status_code == 201, made.text
    cid = made.json()["campaign_id"]
    assert marketer.post(f"/v1/campaigns/{cid}/approve").status_code == 403
    assert admin.post(f"/v1/campaigns/{cid}/approve").json()["status"] == "approved"
    assert marketer.post(f"/v1/campaigns/{cid}/dry-run").json()["to_send"] == 3
    assert marketer.post(f"/v1/campaigns/{cid}/launch").json()["to_send"] == 3

    deadline = time.monotonic() + 30
    while len(rec.requests) < 3 and time.monotonic() < deadline:  # the server's delivery loop sends
        time.sleep(0.2)
    assert sorted(r["json"]["user_id"] for r in rec.requests) == sorted(users)
    first = rec.requests[0]["json"]
    assert first["unsubscribe_url"].startswith(srv.base_url) and "今晚 8 点直播上新" in first["body"]

    opened = ingest.post(
        "/v1/messages/events",
        json={
            "events": [
                {"message_id": first["message_id"], "type": "open"},
                {"message_id": "nope", "type": "click"},
            ]
        },
    )
    assert opened.json()["applied"] == 1 and opened.json()["unknown"] == ["nope"]
    page = httpx.get(first["unsubscribe_url"])  # no key: the signed token is the credential
    assert page.status_code == 200 and "已退订" in page.text
    forged = httpx.get(first["unsubscribe_url"][:-2] + "00")
    assert forged.status_code == 422 and forged.json()["field"] == "token"
    consents = admin.get(f"/v1/users/{first['user_id']}/consents").json()["current"]
    assert any(
        c["purpose"] == "marketing" and c["channel"] == "app_push" and not c["allowed"] for c in consents
    )

    report = srv.client("analyst").get(f"/v1/campaigns/{cid}/report").json()
    steps = {s["step"]: s["users"] for s in report["funnel"]}
    assert steps["sent"] == 3 and steps["opened"] == 1 and report["delivery"]["unsubscribed"] == 1
    # a journey through the API: drafted, approved by another key, started, reported
    bad_journey = marketer.post("/v1/journeys", json={"name": "j", "builtin": "moonwalk"})
    assert bad_journey.status_code == 422 and bad_journey.json()["field"] == "builtin"
    j = marketer.post(
        "/v1/journeys", json={"name": "欢迎旅程", "builtin": "welcome", "channels": ["app_push"]}
    )
    assert j.status_code == 201, j.text
    jid = j.json()["journey_id"]
    assert marketer.post(f"/v1/journeys/{jid}/approve").status_code == 403
    assert admin.post(f"/v1/journeys/{jid}/approve").json()["status"] == "approved"
    assert marketer.post(f"/v1/journeys/{jid}/start").json()["status"] == "active"
    rep = marketer.get(f"/v1/journeys/{jid}/report").json()
    assert rep["journey"]["status"] == "active" and rep["runs"] == []
