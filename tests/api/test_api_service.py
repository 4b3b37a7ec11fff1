"""Service basics against a real uvicorn server: health, metrics, offline docs, problem+json errors."""

from __future__ import annotations

import re
import uuid

import httpx


def _counter(text: str, endpoint: str, outcome: str) -> float:
    """The ingest counter for ``endpoint``/``outcome`` in a Prometheus text page (0 when absent)."""
    found = re.search(
        rf'^liveloop_ingest_records_total\{{endpoint="{endpoint}",outcome="{outcome}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_health_is_public(server):
    resp = httpx.get(f"{server.base_url}/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_metrics_need_a_key_and_count_requests(server):
    assert httpx.get(f"{server.base_url}/metrics").status_code == 401
    httpx.get(f"{server.base_url}/health")
    event = {
        "event_id": f"metrics-{uuid.uuid4().hex}",
        "ts": "2026-11-11T12:00:00Z",
        "user_id": "u",
        "type": "view",
    }
    httpx.post(f"{server.base_url}/v1/events", json={"events": [event]}, headers=server.headers("ingest"))
    resp = httpx.get(f"{server.base_url}/metrics", headers=server.headers("analyst"))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert 'liveloop_http_requests_total{method="GET",route="/health",status="200"}' in resp.text
    assert "liveloop_http_request_duration_seconds_bucket" in resp.text
    assert 'liveloop_ingest_records_total{endpoint="events",outcome="accepted"}' in resp.text
    assert 'route="/v1/events"' in resp.text  # labelled by route template, not raw path
    assert "liveloop_ingest_write_queue_depth" in resp.text


def test_metrics_count_rejected_and_duplicate_records_exactly(server):
    def scrape() -> str:
        return httpx.get(f"{server.base_url}/metrics", headers=server.headers("analyst")).text

    tag = uuid.uuid4().hex[:8]
    good = {"event_id": f"{tag}-ok", "ts": "2026-11-11T12:00:00Z", "user_id": "u", "type": "view"}
    bad = [
        {**good, "event_id": f"{tag}-bad1", "ts": "not a time"},
        {**good, "event_id": f"{tag}-bad2", "type": "teleport"},
        {**good, "event_id": f"{tag}-bad3", "amount": "-5"},
    ]
    before = scrape()
    resp = httpx.post(
        f"{server.base_url}/v1/events", json={"events": [good, good, *bad]}, headers=server.headers("ingest")
    )
    assert resp.json()["rejected"] == 3 and resp.json()["duplicates"] == 1
    after = scrape()
    for outcome, n in (("accepted", 1), ("duplicate", 1), ("rejected", 3)):
        assert _counter(after, "events", outcome) - _counter(before, "events", outcome) == n, outcome


def test_docs_page_and_its_assets_are_served_locally(server):
    page = httpx.get(f"{server.base_url}/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN URL anywhere in the page
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/static/swagger-init.js",
    ):
        resp = httpx.get(f"{server.base_url}{asset}")
        assert resp.status_code == 200, asset
        assert len(resp.content) > 100
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert "/v1/keys" in spec["paths"]
    assert {"ApiKey", "Bearer"} <= set(spec["components"]["securitySchemes"])


def test_unknown_route_and_wrong_method_are_problems(server):
    resp = httpx.get(f"{server.base_url}/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 404
    resp = httpx.put(f"{server.base_url}/health")
    assert resp.status_code == 405
    assert resp.json()["title"] == "Method not allowed"
