"""Login, sessions and static files over real HTTP: CSRF, rate limiting, redirects, path traversal."""

from __future__ import annotations

import re

import httpx


def _login_form(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _login(client: httpx.Client, key: str, next_path: str = "/") -> httpx.Response:
    token = _login_form(client)
    return client.post("/login", data={"key": key, "csrf_token": token, "next": next_path})


def test_session_login_csrf_and_safe_redirects(server):
    with httpx.Client(base_url=server.base_url) as client:
        resp = _login(client, server.key("analyst"), "//evil.example/steal")
        assert resp.status_code == 303 and resp.headers["location"] == "/"  # never off-site
        set_cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        assert server.key("analyst") not in resp.headers["set-cookie"]  # the cookie never holds the key
        page = client.get("/overview")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text  # no inline code: only files served by liveloop
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        # a session may call the API, but a state-changing call needs the CSRF token
        assert client.get("/metrics").status_code == 200
        body = {"role": "host", "name": "from-session"}
        assert client.post("/v1/keys", json=body).status_code == 403  # analyst, and no token
    with httpx.Client(base_url=server.base_url) as admin:
        _login(admin, server.admin_key)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/overview").text).group(1)
        refused = admin.post("/v1/keys", json=body)
        assert refused.status_code == 403 and refused.json()["field"] == "csrf_token"
        assert admin.post("/v1/keys", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
        copied = admin.cookies.get("ll_session")
        assert admin.post("/logout", data={"csrf_token": "forged"}).status_code == 403  # no logout CSRF
        out = admin.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert admin.get("/overview", headers={"accept": "text/html"}).status_code == 303
    with httpx.Client(base_url=server.base_url, cookies={"ll_session": copied}) as replay:
        assert replay.get("/metrics").status_code == 401  # the logged-out cookie is dead on the server


def test_login_without_the_form_token_is_refused(server):
    with httpx.Client(base_url=server.base_url) as client:
        resp = client.post("/login", data={"key": server.admin_key, "csrf_token": "forged.token"})
        assert resp.status_code == 403
        assert "ll_session" not in resp.headers.get("set-cookie", "")


def test_a_revoked_key_ends_its_sessions(server):
    created = httpx.post(
        f"{server.base_url}/v1/keys",
        json={"role": "analyst", "name": "short-lived"},
        headers=server.headers(),
    ).json()
    with httpx.Client(base_url=server.base_url) as client:
        assert _login(client, created["key"]).status_code == 303
        assert client.get("/metrics").status_code == 200
        httpx.delete(f"{server.base_url}/v1/keys/{created['key_id']}", headers=server.headers())
        assert client.get("/metrics").status_code == 401


def test_path_traversal_on_file_routes_is_refused(server):
    passwd = "root:x:0:0"
    probes = [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/docs/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/vendor/../../../../../etc/passwd",
        "/static/app.css%00.js",
    ]
    with httpx.Client(base_url=server.base_url) as client:
        for probe in probes:
            resp = client.get(httpx.URL(server.base_url + probe))  # sent as written, not normalised
            assert resp.status_code in (400, 404), (probe, resp.status_code)
            assert passwd not in resp.text
        assert client.get("/static/app.css").status_code == 200


def test_repeated_failed_logins_get_429(live_server_factory):
    srv = live_server_factory(env={"LIVELOOP_AUTH_MAX_FAILURES": "3"})
    with httpx.Client(base_url=srv.base_url) as client:
        codes = [
            _login(client, "ll_0123456789ab.guessing-the-secret-" + str(i)).status_code for i in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        blocked = _login(client, "ll_0123456789ab.the-right-secret-would-wait-too")
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        # the guessed key is limited over the API too; other keys from this address are not locked out
        assert (
            httpx.get(f"{srv.base_url}/metrics", headers={"X-API-Key": "ll_0123456789ab.x" * 2}).status_code
            == 429
        )
        assert _login(client, srv.admin_key).status_code == 303
        spoofed = {"X-API-Key": "ll_0123456789ab.x", "X-Forwarded-For": "203.0.113.9"}
        assert httpx.get(f"{srv.base_url}/metrics", headers=spoofed).status_code == 429  # not trusted
