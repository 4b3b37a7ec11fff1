"""The recommendation endpoints on a real uvicorn server over a simulated, trained warehouse."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.recommend.train import train

LIVE_SESSION = "s5-live-now"
PICKED: dict[str, str] = {}  # users chosen while seeding (the server then holds the warehouse)


def _seed(wh) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=5)
    train(wh, evaluate=False, force=True)
    active = wh.sql(
        "SELECT user_id FROM events WHERE product_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3"
    )
    PICKED.update(user=active[0][0], other=active[1][0], page=active[2][0])
    lineup = [r[0] for r in wh.sql("SELECT product_id FROM products ORDER BY product_id LIMIT 6")]
    now = datetime.now(UTC)
    wh.sql(
        "INSERT INTO live_sessions (session_id, host_id, title, start_ts, end_ts, lineup) "
        "SELECT ?, host_id, '今晚好物', ?, ?, ? FROM hosts ORDER BY host_id LIMIT 1",
        [LIVE_SESSION, now - timedelta(minutes=10), now + timedelta(hours=3), lineup],
    )


def test_recommendation_endpoints_and_page(
    live_server_factory, browser_page, dashboard_login, tmp_path
) -> None:
    srv = live_server_factory(seed=_seed, env={"LIVELOOP_RETRAIN_EVERY": "12h"})
    user, other_user = PICKED["user"], PICKED["other"]
    with srv.client("analyst") as c:
        r = c.get(f"/v1/users/{user}/recommendations", params={"k": 5})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert len(body["items"]) == 5 and all(i["reason"]["text_zh"] for i in body["items"])
        assert body["mode"] == "personalised" and body["known_user"] is True
        assert c.get(f"/v1/users/{user}/recommendations", params={"k": 5}).status_code == 200
        status = c.get("/v1/recommend/status").json()
        assert status["cache"]["hits"] >= 1 and status["model_version"] == body["model_version"]
        assert status["upkeep"]["retrain_every_s"] == 12 * 3600  # LIVELOOP_RETRAIN_EVERY reached the server

        cold = c.get("/v1/users/never-seen/recommendations", params={"k": 3}).json()
        assert cold["mode"] == "cold_start" and cold["fallback"] == "popularity" and len(cold["items"]) == 3

        quiet = c.get(f"/v1/users/{user}/recommendations", params={"k": 10, "explore": "false"}).json()
        assert "explore" not in {i["reason"]["code"] for i in quiet["items"]}
        curious = c.get(f"/v1/users/{user}/recommendations", params={"k": 10, "explore": "true"}).json()
        assert curious["items"][-1]["reason"]["code"] == "explore"
        bad_explore = c.get(f"/v1/users/{user}/recommendations", params={"explore": "perhaps"})
        assert bad_explore.status_code == 422 and "explore" in bad_explore.text

        product = body["items"][0]["product_id"]
        similar = c.get(f"/v1/users/{user}/recommendations", params={"context": f"product:{product}"})
        assert similar.status_code == 200, similar.text
        items = similar.json()["items"]
        assert items and product not in {i["product_id"] for i in items}
        assert any(i["reason"]["code"] == "similar_item" for i in items)

        room = c.get(f"/v1/users/{user}/recommendations", params={"context": f"live:{LIVE_SESSION}"}).json()
        assert room["items"] and {i["reason"]["code"] for i in room["items"]} <= {"in_this_live", "explore"}

        bad_k = c.get(f"/v1/users/{user}/recommendations", params={"k": 0})
        assert bad_k.status_code == 422 and bad_k.headers["content-type"].startswith(
            "application/problem+json"
        )
        missing = c.get(f"/v1/users/{user}/recommendations", params={"context": "product:nope"})
        assert missing.status_code == 404 and missing.json()["field"] == "context"
        assert c.get(f"/v1/users/{user}/recommendations", params={"context": "live:nope"}).status_code == 404
        assert c.get(f"/v1/users/{user}/recommendations", params={"context": "moon"}).status_code == 422

        rooms = c.get(f"/v1/users/{user}/live-rooms", params={"k": 3})
        assert rooms.status_code == 200, rooms.text
        first = rooms.json()["rooms"][0]
        assert (
            first["session_id"] == LIVE_SESSION
            and first["live_now"]
            and first["reason"]["code"] == "live_now"
        )
        pin = c.get(f"/v1/live/{LIVE_SESSION}/pin", params={"user_id": user})
        assert pin.status_code == 200, pin.text
        assert pin.json()["product"]["reason"]["code"] == "in_this_live"
        assert c.get("/v1/live/nope/pin", params={"user_id": user}).status_code == 404
        no_viewer = c.get(f"/v1/live/{LIVE_SESSION}/pin")
        assert no_viewer.status_code == 422 and "user_id" in no_viewer.text

        bundles = c.get(f"/v1/products/{product}/bundles")
        assert bundles.status_code == 200 and bundles.json()["product_id"] == product
        assert c.get("/v1/products/nope/bundles").status_code == 404

    with srv.client("admin") as c:  # an opted-out user gets the shared, non-personalised list
        assert c.patch(f"/v1/users/{user}", json={"non_personalised": True}).status_code == 200
        deadline = time.monotonic() + 10
        while True:
            opted = c.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()
            if opted["mode"] == "non_personalised" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert opted["mode"] == "non_personalised"
        assert {i["reason"]["code"] for i in opted["items"]} == {"non_personalised"}
        other = c.get(f"/v1/users/{other_user}/recommendations", params={"k": 5}).json()
        assert c.patch(f"/v1/users/{other_user}", json={"non_personalised": True}).status_code == 200
        time.sleep(1.5)
        shared = c.get(f"/v1/users/{other_user}/recommendations", params={"k": 5}).json()
        assert shared["mode"] == "non_personalised" and shared["items"] == opted["items"] != other["items"]

    with srv.client("marketer") as c:
        newcomer = "visitor-42"
        before = [
            i["product_id"]
            for i in c.get(f"/v1/users/{newcomer}/recommendations", params={"k": 10}).json()["items"]
        ]
        fb = c.post(
            "/v1/feedback", json={"user_id": newcomer, "product_id": before[-1], "type": "add_to_cart"}
        )
        assert fb.status_code == 201, fb.text
        after = c.get(f"/v1/users/{newcomer}/recommendations", params={"k": 10}).json()
        assert any(i["reason"]["code"] == "because_viewed" for i in after["items"])
        bad = c.post("/v1/feedback", json={"user_id": newcomer, "product_id": before[0], "type": "teleport"})
        assert bad.status_code == 422
        told = c.get(f"/v1/users/{newcomer}/decisions", params={"lang": "en"})  # PIPL art. 24
        assert told.status_code == 200, told.text
        lists = [d for d in told.json()["decisions"] if d["action"] == "recommend"]
        assert len(lists) >= 2 and all(d["explanation"].startswith("10 products recommended") for d in lists)
        assert c.get(f"/v1/users/{newcomer}/decisions", params={"lang": "fr"}).json()["field"] == "lang"
        for ts in ("9999-01-01T00:00:00Z", "0001-01-01T00:00:00Z", -86400):  # the range /v1/events keeps
            late = c.post(
                "/v1/feedback",
                json={"user_id": newcomer, "product_id": before[0], "type": "click", "ts": ts},
            )
            assert late.status_code == 422 and late.json()["field"] == "ts", (ts, late.text)

    with srv.client("host") as c:  # hosts may read lists but not write feedback
        assert (
            c.post("/v1/feedback", json={"user_id": "x", "product_id": "y", "type": "click"}).status_code
            == 403
        )
        assert c.get("/v1/recommend/status").status_code == 403

    page = browser_page
    page.goto(f"{srv.base_url}/recommendations?user={PICKED['page']}")
    dashboard_login(page, srv, "analyst")
    page.goto(f"{srv.base_url}/recommendations?user={PICKED['page']}")
    page.wait_for_selector("#rec-list tbody tr")
    assert page.locator("#rec-list tbody tr").count() == 10
    assert page.locator("#rec-model .chart").count() == 0 or page.locator("#rec-model").is_visible()
    page.screenshot(path=str(tmp_path / "recommendations.png"), full_page=True)
    assert page.console_errors == []

    srv.stop()  # shutdown writes the buffered audit entries
    from liveloop.core.config import Settings
    from liveloop.warehouse import Warehouse

    with Warehouse.open(Settings(home=srv.home, secret_key=srv.env["LIVELOOP_SECRET_KEY"])) as wh:
        logged = wh.sql("SELECT count(*) FROM audit_log WHERE action = 'recommend' AND actor = 'api'")[0][0]
    assert logged >= 10
