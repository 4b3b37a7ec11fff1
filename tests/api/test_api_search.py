"""Search against a real server: users by id or phone (blind index), products by id or name, live
sessions by id or title; bad input is a problem+json 422 naming the field."""

from __future__ import annotations

import uuid


def test_search_finds_users_products_and_sessions(server):
    tag = uuid.uuid4().hex[:8]
    with server.client("ingest") as ingest, server.client("marketer") as marketer:
        for i, phone in enumerate(("13912345678", "13700000000")):
            assert (
                ingest.post("/v1/users", json={"user_id": f"su-{tag}-{i}", "phone": phone}).status_code == 201
            )
        product = {"product_id": f"sp-{tag}", "title": f"羊毛大衣 {tag}", "title_en": f"Wool coat {tag}"}
        assert ingest.post("/v1/products", json=product).status_code == 201
        assert (
            ingest.post(
                "/v1/live-sessions", json={"session_id": f"sl-{tag}", "title": f"秋冬专场 {tag}"}
            ).status_code
            == 201
        )

        by_id = marketer.get("/v1/search", params={"q": f"su-{tag}"}).json()
        assert [u["user_id"] for u in by_id["users"]] == [f"su-{tag}-0", f"su-{tag}-1"]
        assert by_id["products"] == [] and by_id["live_sessions"] == []
        by_phone = marketer.get("/v1/search", params={"q": "+86 139-1234-5678"}).json()
        assert by_phone["users"] == [{"user_id": f"su-{tag}-0", "matched": "phone"}]
        by_name = marketer.get("/v1/search", params={"q": f"WOOL COAT {tag}"}).json()
        assert [p["product_id"] for p in by_name["products"]] == [f"sp-{tag}"]
        assert by_name["products"][0]["title"] == f"羊毛大衣 {tag}"
        by_title = marketer.get("/v1/search", params={"q": f"秋冬专场 {tag}"}).json()
        assert [s["session_id"] for s in by_title["live_sessions"]] == [f"sl-{tag}"]
        everything = marketer.get("/v1/search", params={"q": tag, "limit": 1}).json()
        assert len(everything["users"]) == 1 and everything["products"] and everything["live_sessions"]


def test_search_rejects_bad_input_and_needs_a_reader(server):
    with server.client("marketer") as marketer, server.client("ingest") as ingest:
        for params, field in (
            ({}, "q"),
            ({"q": ""}, "q"),
            ({"q": "x" * 65}, "q"),
            ({"q": "a", "limit": 0}, "limit"),
        ):
            bad = marketer.get("/v1/search", params=params)
            assert bad.status_code == 422, bad.text
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert field in str(bad.json().get("field")), bad.json()
        blank = marketer.get("/v1/search", params={"q": "   "})
        assert blank.status_code == 422 and blank.json()["field"] == "q"
        assert ingest.get("/v1/search", params={"q": "a"}).status_code == 403
