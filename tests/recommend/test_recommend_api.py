"""The recommendation endpoints on a real uvicorn server over a simulated, trained warehouse."""

from __future__ import annotations

from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.recommend.train import train


def _seed(wh) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=5)
    train(wh, evaluate=False)


def test_recommendation_endpoints_and_page(
    live_server_factory, browser_page, dashboard_login, tmp_path
) -> None:
    srv = live_server_factory(seed=_seed)
    with srv.client("analyst") as c:
        user = "s5u0000001"
        r = c.get(f"/v1/users/{user}/recommendations", params={"k": 5})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) == 5 and all(i["reason"]["text_zh"] for i in body["items"])

        cold = c.get("/v1/users/never-seen/recommendations", params={"k": 3}).json()
        assert cold["mode"] == "cold_start" and len(cold["items"]) == 3

        bad_k = c.get(f"/v1/users/{user}/recommendations", params={"k": 0})
        assert bad_k.status_code == 422 and bad_k.headers["content-type"].startswith(
            "application/problem+json"
        )

        missing = c.get(f"/v1/users/{user}/recommendations", params={"context": "product:nope"})
        assert missing.status_code == 404 and missing.json()["field"] == "context"
        assert c.get(f"/v1/users/{user}/recommendations", params={"context": "live:nope"}).status_code == 404

        product = body["items"][0]["product_id"]
        bundles = c.get(f"/v1/products/{product}/bundles")
        assert bundles.status_code == 200 and bundles.json()["product_id"] == product
        assert c.get("/v1/products/nope/bundles").status_code == 404

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

    with srv.client("host") as c:  # hosts may read lists but not write feedback
        assert (
            c.post("/v1/feedback", json={"user_id": "x", "product_id": "y", "type": "click"}).status_code
            == 403
        )

    page = browser_page
    page.goto(f"{srv.base_url}/recommendations?user={user}")
    dashboard_login(page, srv, "analyst")
    page.goto(f"{srv.base_url}/recommendations?user={user}")
    page.wait_for_selector("#rec-list tbody tr")
    assert page.locator("#rec-list tbody tr").count() == 10
    assert page.locator("#rec-model .chart").count() == 0 or page.locator("#rec-model").is_visible()
    page.screenshot(path=str(tmp_path / "recommendations.png"), full_page=True)
    assert page.console_errors == []
