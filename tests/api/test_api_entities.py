"""Entity API against a real server: create, get (PII masked), update, list with filters and cursor."""

from __future__ import annotations

import uuid

import httpx


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_users_crud_with_pii_masked_unless_an_admin_asks(server):
    uid = _id("u")
    with (
        server.client("ingest") as ingest,
        server.client("analyst") as analyst,
        server.client("admin") as admin,
    ):
        created = ingest.post(
            "/v1/users",
            json={
                "user_id": uid,
                "phone": "13800001111",
                "email": "li@example.cn",
                "region": "浙江",
                "gender": "female",
                "city_tier": 2,
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["phone"] == "***" and created.json()["email"] == "***"
        assert "13800001111" not in created.text
        assert ingest.post("/v1/users", json={"user_id": uid}).status_code == 409
        got = analyst.get(f"/v1/users/{uid}").json()
        assert got["region"] == "浙江" and got["phone"] == "***" and got["name"] is None
        assert analyst.get(f"/v1/users/{uid}", params={"reveal_pii": "true"}).status_code == 403
        revealed = admin.get(f"/v1/users/{uid}", params={"reveal_pii": "true"}).json()
        assert revealed["phone"] == "13800001111" and revealed["email"] == "li@example.cn"
        patched = ingest.patch(f"/v1/users/{uid}", json={"city_tier": 1, "non_personalised": True})
        assert patched.status_code == 200 and patched.json()["city_tier"] == 1
        assert patched.json()["non_personalised"] is True
        assert ingest.patch(f"/v1/users/{uid}", json={"city_tier": 9}).json()["field"] == "city_tier"
        assert ingest.patch(f"/v1/users/{uid}", json={"shoe_size": 42}).json()["field"] == "shoe_size"
        assert ingest.patch("/v1/users/nobody-here", json={"city_tier": 2}).status_code == 404
        assert analyst.get("/v1/users/nobody-here").status_code == 404


def test_products_list_filters_and_cursor_pagination(server):
    brand = _id("brand")
    with server.client("ingest") as ingest, server.client("marketer") as marketer:
        for i in range(7):
            resp = ingest.post(
                "/v1/products",
                json={
                    "product_id": f"{brand}-p{i}",
                    "brand": brand,
                    "price": f"{10 + i}.50",
                    "stock": i,
                    "title": f"商品{i}",
                },
            )
            assert resp.status_code == 201, resp.text
        seen, cursor = [], None
        while True:
            params = {"brand": brand, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = marketer.get("/v1/products", params=params).json()
            seen += [p["product_id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(f"{brand}-p{i}" for i in range(7))
        cheap = marketer.get("/v1/products", params={"brand": brand, "max_price": "12.50"}).json()["items"]
        assert [p["price"] for p in cheap] == ["10.50", "11.50", "12.50"]  # money stays exact, as strings
        in_stock = marketer.get("/v1/products", params={"brand": brand, "in_stock": "true"}).json()["items"]
        assert len(in_stock) == 6
        assert marketer.get("/v1/products", params={"colour": "red"}).json()["field"] == "colour"
        assert marketer.get("/v1/products", params={"limit": 0}).status_code == 422
        assert marketer.get("/v1/products", params={"cursor": "%%%"}).status_code == 422
        assert ingest.post("/v1/products", json={"product_id": _id("p"), "price": "-1"}).status_code == 422


def test_users_list_with_filters_and_cursor_pagination(server):
    region = _id("region")  # a region no other test uses, so the list is exactly these users
    users = [
        {
            "user_id": f"{region}-u{i}",
            "region": region,
            "gender": ("female", "male")[i % 2],
            "city_tier": 1 + i % 3,
        }
        for i in range(5)
    ]
    with server.client("ingest") as ingest, server.client("analyst") as analyst:
        for user in users:
            assert ingest.post("/v1/users", json={**user, "phone": "13800002222"}).status_code == 201
        ingest.patch(f"/v1/users/{region}-u4", json={"non_personalised": True})
        seen, cursor, pages = [], None, 0
        while True:
            params = {"region": region, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = analyst.get("/v1/users", params=params).json()
            assert len(page["items"]) <= 2 and all(u["phone"] == "***" for u in page["items"])
            seen += [u["user_id"] for u in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [u["user_id"] for u in users] and pages == 3
        by = {
            "gender": ({"gender": "female"}, [0, 2, 4]),
            "city_tier": ({"city_tier": 2}, [1, 4]),
            "both": ({"gender": "male", "city_tier": 2}, [1]),
            "non_personalised": ({"non_personalised": "true"}, [4]),
        }
        for name, (filters, expected) in by.items():
            got = analyst.get("/v1/users", params={"region": region, **filters}).json()["items"]
            assert [u["user_id"] for u in got] == [f"{region}-u{i}" for i in expected], name
        assert analyst.get("/v1/users", params={"gender": "robot"}).json()["field"] == "gender"
        assert analyst.get("/v1/users", params={"city_tier": 9}).status_code == 422
        assert analyst.get("/v1/users", params={"limit": 501}).json()["field"] == "limit"


def test_hosts_list_by_category_with_pagination(server):
    category = _id("cat")
    with server.client("ingest") as ingest, server.client("host") as host_client:
        for i in range(3):
            made = ingest.post(
                "/v1/hosts", json={"host_id": f"{category}-h{i}", "name": f"主播{i}", "category": category}
            )
            assert made.status_code == 201, made.text
        first = host_client.get("/v1/hosts", params={"category": category, "limit": 2}).json()
        assert [h["host_id"] for h in first["items"]] == [f"{category}-h0", f"{category}-h1"]
        rest = host_client.get(
            "/v1/hosts", params={"category": category, "limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert [h["host_id"] for h in rest["items"]] == [f"{category}-h2"] and rest["next_cursor"] is None
        assert host_client.get("/v1/hosts", params={"category": _id("none")}).json()["items"] == []
        assert host_client.get("/v1/hosts", params={"brand": "x"}).json()["field"] == "brand"


def test_hosts_and_live_sessions(server):
    host = _id("h")
    with server.client("ingest") as ingest, server.client("host") as host_client:
        assert (
            ingest.post(
                "/v1/hosts", json={"host_id": host, "name": "薇娅同款", "category": "美妆"}
            ).status_code
            == 201
        )
        sid = _id("s")
        made = host_client.post(
            "/v1/live-sessions",
            json={
                "session_id": sid,
                "host_id": host,
                "title": "双十一专场",
                "start_ts": "2026-11-11T12:00:00Z",
                "end_ts": "2026-11-11T14:00:00Z",
                "lineup": ["p1", "p2"],
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["lineup"] == ["p1", "p2"]
        ended = host_client.get("/v1/live-sessions", params={"host_id": host, "status": "ended"}).json()[
            "items"
        ]
        assert [s["session_id"] for s in ended] == [sid]
        bad = host_client.patch(f"/v1/live-sessions/{sid}", json={"end_ts": "2026-11-10T00:00:00Z"})
        assert bad.status_code == 422 and bad.json()["field"] == "end_ts"
        assert host_client.get(f"/v1/live-sessions/{sid}").json()["end_ts"].startswith("2026-11-11T14")
        assert host_client.get(f"/v1/hosts/{host}").json()["name"] == "薇娅同款"


def test_create_with_idempotency_key_replays_instead_of_409(server):
    pid, key = _id("p"), uuid.uuid4().hex
    headers = {**server.headers("ingest"), "Idempotency-Key": key}
    first = httpx.post(
        f"{server.base_url}/v1/products", json={"product_id": pid, "price": "9.90"}, headers=headers
    )
    second = httpx.post(
        f"{server.base_url}/v1/products", json={"product_id": pid, "price": "9.90"}, headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
