"""The risk faces: the API on a real server over a simulated world with injected fraud (the queue, a flag's
evidence and members, reviews, scans; problem+json naming the field; what a host may read), the CLI on a
fresh home (one-line errors, ``--json``), and the post-live report's risk section in both languages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from liveloop.analytics import risk
from liveloop.analytics.reports import archive, render
from liveloop.analytics.reports.postlive import post_live
from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.datasets.simulator.fraud import FraudConfig, inject_fraud
from liveloop.warehouse import Warehouse

#: Every live-room tactic in a third of the sessions, rings and refund abusers: each face has flags to show.
CONFIG = FraudConfig(
    campaign_share=0.3, p_joins=1, p_comments=1, p_likes=1, p_gifts=1, fresh_share=0.5, bots=(12, 25)
)
SEEN_KINDS = {"comment_burst", "synced_joins", "like_spike", "gift_spike", "linked_accounts", "refund_abuse"}


def fraud_world(wh: Warehouse) -> dict[str, Any]:
    """A small simulated world with fraud injected, scanned once: the scan's answer."""
    simulate_into_warehouse(wh, scale="small", seed=11, users=120, days=3)
    inject_fraud(wh, seed=3, config=CONFIG)
    return risk.scan(wh)


@pytest.fixture
def risk_server(live_server_factory) -> tuple[Any, dict[str, Any]]:
    scanned: dict[str, Any] = {}
    return live_server_factory(seed=lambda wh: scanned.update(fraud_world(wh))), scanned


def _problem(resp: Any, status: int, field: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == field, resp.json()


def test_risk_through_the_api(risk_server) -> None:
    srv, scanned = risk_server
    analyst, marketer, host, ingest = (srv.client(r) for r in ("analyst", "marketer", "host", "ingest"))
    queue = analyst.get("/v1/risk/flags", params={"limit": 500})
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["total"] == scanned["new"] == len(body["flags"]) and body["limit"] == 500
    assert {f["kind"] for f in body["flags"]} >= SEEN_KINDS
    assert all(f["status"] == "open" and f["evidence"]["rule"] for f in body["flags"])
    paged = analyst.get("/v1/risk/flags", params={"limit": 2, "offset": 2}).json()
    assert [f["flag_id"] for f in paged["flags"]] == [f["flag_id"] for f in body["flags"][2:4]]
    bursts = analyst.get("/v1/risk/flags", params={"kind": "comment_burst"}).json()["flags"]
    assert bursts and all(f["kind"] == "comment_burst" and f["session_id"] for f in bursts)
    _problem(analyst.get("/v1/risk/flags", params={"kind": "shoe_size"}), 422, "kind")
    _problem(analyst.get("/v1/risk/flags", params={"status": "maybe"}), 422, "status")
    _problem(analyst.get("/v1/risk/flags", params={"limit": 0}), 422, "limit")
    assert analyst.get("/v1/risk/kinds").json()[0]["kind"] == "comment_burst"

    # one flag: its evidence, every account and a few examples of each item
    burst = bursts[0]
    flag = analyst.get(f"/v1/risk/flags/{burst['flag_id']}", params={"examples": 3}).json()
    assert flag["evidence"] == burst["evidence"] and flag["kind_description"]
    assert len(flag["members"]["account"]) == burst["accounts"] >= 6
    assert 0 < len(flag["members"]["comment"]) <= 3 and flag["members"]["comment"][0]["detail"]
    _problem(analyst.get("/v1/risk/flags/rf_0000000000000000"), 404, "flag_id")
    _problem(analyst.get("/v1/risk/flags/not an id"), 422, "flag_id")

    # a host reads the flags of a session, not the shop's accounts and orders
    _problem(host.get("/v1/risk/flags"), 403, "session_id")
    sid = burst["session_id"]
    mine = host.get("/v1/risk/flags", params={"session_id": sid})
    assert mine.status_code == 200 and {f["session_id"] for f in mine.json()["flags"]} == {sid}
    assert host.get(f"/v1/risk/flags/{burst['flag_id']}").status_code == 200
    ring = next(f for f in body["flags"] if f["kind"] == "linked_accounts")
    _problem(host.get(f"/v1/risk/flags/{ring['flag_id']}"), 403, "flag_id")
    assert ingest.get("/v1/risk/flags", params={"session_id": sid}).status_code == 403

    # scans: idempotent, and bad input names its field
    assert ingest.post("/v1/risk/scan", json={}).status_code == 403
    assert host.post("/v1/risk/scan", json={}).status_code == 403
    again = marketer.post("/v1/risk/scan", json={})
    assert again.status_code == 200, again.text
    assert again.json()["new"] == 0 and again.json()["found"] == scanned["found"]
    one = analyst.post("/v1/risk/scan", json={"session_id": sid, "kinds": ["comment_burst"]}).json()
    assert set(one["kinds"]) == {"comment_burst"} and one["found"] >= 1 and one["new"] == 0
    _problem(analyst.post("/v1/risk/scan", json={"kinds": ["shoe_size"]}), 422, "kinds[0]")
    _problem(analyst.post("/v1/risk/scan", json={"kinds": []}), 422, "kinds")
    _problem(
        analyst.post("/v1/risk/scan", json={"session_id": sid, "kinds": ["refund_abuse"]}), 422, "session_id"
    )
    _problem(analyst.post("/v1/risk/scan", json={"params": {"shoe_size": 1}}), 422, "params")
    window = {"start": "2026-11-05T00:00:00+08:00", "end": "2026-11-04T00:00:00+08:00"}
    _problem(analyst.post("/v1/risk/scan", json=window), 422, "end")
    _problem(analyst.post("/v1/risk/scan", json={"start": "1970-01-02T00:00:00Z"}), 422, "start")

    # reviews: who, when and why are kept; a bad verdict names its field
    path = f"/v1/risk/flags/{ring['flag_id']}/review"
    _problem(analyst.post(path, json={"status": "maybe"}), 422, "status")
    assert host.post(path, json={"status": "confirmed"}).status_code == 403
    done = analyst.post(path, json={"status": "confirmed", "note": "同一收货地址，8 个账号"})
    assert done.status_code == 200, done.text
    reviewed = done.json()
    assert reviewed["status"] == "confirmed" and reviewed["reviewed_by"].startswith("key:")
    assert reviewed["review_note"] == "同一收货地址，8 个账号" and reviewed["reviewed_at"]
    confirmed = analyst.get("/v1/risk/flags", params={"status": "confirmed"}).json()
    assert [f["flag_id"] for f in confirmed["flags"]] == [ring["flag_id"]]
    reopened = marketer.post(path, json={"status": "open"}).json()
    assert reopened["status"] == "open" and reopened["reviewed_by"] is None
    _problem(
        analyst.post("/v1/risk/flags/rf_0000000000000000/review", json={"status": "dismissed"}),
        404,
        "flag_id",
    )


def test_risk_commands(cli, settings: Settings) -> None:
    with Warehouse.open(settings) as wh:
        simulate_into_warehouse(wh, scale="small", seed=11, users=120, days=3)
        inject_fraud(wh, seed=3, config=CONFIG)
    code, out, err = cli("risk", "scan", "--json")
    assert code == 0, err
    scanned = json.loads(out)
    assert (
        scanned["new"] == scanned["found"] > 0
        and {k for k, v in scanned["kinds"].items() if v["new"]} >= SEEN_KINDS
    )
    code, out, err = cli("risk", "scan")
    assert code == 0 and "0 new flags" in out and "comment_burst" in out
    code, out, err = cli("risk", "scan", "--session", "s11l000000", "--kind", "refund_abuse")
    assert code != 0 and err.count("\n") == 1 and "not found per session" in err
    code, out, err = cli("risk", "scan", "--start", "yesterday")
    assert code != 0 and err.startswith("error: start must be an ISO 8601 time")

    code, out, err = cli("risk", "flags", "--json", "--limit", "500")
    assert code == 0, err
    queue = json.loads(out)
    assert queue["total"] == scanned["new"] and len(queue["flags"]) == queue["total"]
    code, out, err = cli("risk", "flags", "--kind", "linked_accounts")
    assert code == 0 and "linked_accounts" in out and "ring_" in out and "refund_abuse" not in out
    code, out, err = cli("risk", "flags", "--kind", "shoe_size")
    assert code != 0 and err.count("\n") == 1 and "unknown risk kind 'shoe_size'" in err
    code, out, err = cli("risk", "flags", "--status", "maybe")
    assert code != 0 and "unknown status 'maybe'" in err

    burst = next(f for f in queue["flags"] if f["kind"] == "comment_burst")
    code, out, err = cli("risk", "show", burst["flag_id"], "--examples", "2")
    assert code == 0, err
    assert burst["flag_id"] in out and "rule: near-identical comments" in out and "accounts (" in out
    assert "comments (examples)" in out
    code, out, err = cli("risk", "show", burst["flag_id"], "--json")
    assert json.loads(out)["members"]["account"]
    code, out, err = cli("risk", "show", "rf_0000000000000000")
    assert code != 0 and err.strip() == "error: no risk flag 'rf_0000000000000000'"

    code, out, err = cli("risk", "review", burst["flag_id"], "confirmed", "--note", "bots", "--by", "阿强")
    assert code == 0 and "is now confirmed" in out, err
    code, out, err = cli("risk", "review", burst["flag_id"], "maybe")
    assert code != 0 and err.count("\n") == 1 and "unknown status 'maybe'" in err
    code, out, err = cli("risk", "flags", "--status", "confirmed", "--json")
    flag = json.loads(out)["flags"][0]
    assert (
        flag["flag_id"] == burst["flag_id"]
        and flag["reviewed_by"] == "阿强"
        and flag["review_note"] == "bots"
    )
    code, out, err = cli("risk", "kinds")
    assert code == 0 and "kpi_drop" in out


def test_post_live_report_shows_the_session_flags(settings: Settings) -> None:
    with Warehouse.open(settings) as wh:
        fraud_world(wh)
        burst = risk.list_flags(wh, kind="comment_burst")["flags"][0]
        sid = burst["session_id"]
        session_flags = risk.list_flags(wh, session_id=sid, limit=500)["flags"]
        risk.review_flag(wh, burst["flag_id"], "confirmed", reviewer="test")
        d = archive.jsonable(post_live(wh, sid) | {"generated_at": datetime.now().astimezone()})
        section = d["risk"]
        assert (
            section["total"] >= len(session_flags) and section["per_kind"]["comment_burst"]["confirmed"] == 1
        )
        assert {f["kind"] for f in session_flags} <= set(section["per_kind"])
        assert section["top"][0]["flag_id"] == burst["flag_id"]  # confirmed first
        assert list(section["per_kind"]) == [k for k in risk.KINDS if k in section["per_kind"]]
        assert [f["kind"] for f in section["top"][1:]] == [
            k for k in section["per_kind"] if k != "comment_burst"
        ]
        assert all(len(f["examples"]) == min(5, f["accounts"]) for f in section["top"])
        zh, en = render.html(d, "zh"), render.html(d, "en")
        assert 'id="risk"' in zh and "风险标记" in zh and "评论刷屏" in zh and "已确认" in zh
        assert "Risk flags" in en and "Comment flood" in en and "near-identical comments" in en
        assert "评论刷屏" not in en and "Comment flood" not in zh
        # dismissed flags are left out: once every flag is dismissed the session has none, and says so
        for f in risk.list_flags(wh, limit=500)["flags"]:
            risk.review_flag(wh, f["flag_id"], "dismissed", reviewer="test")
        quiet = post_live(wh, sid) | {"generated_at": datetime.now().astimezone()}
        assert quiet["risk"] == {"total": 0, "per_kind": {}, "top": []}
        assert "本场没有风险标记" in render.html(archive.jsonable(quiet), "zh")
        old = {k: v for k, v in d.items() if k != "risk"}
        assert 'id="risk"' not in render.html(old, "en")
