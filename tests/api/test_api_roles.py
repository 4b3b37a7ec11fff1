"""Every route of the app declares its roles: no key → 401, a key of a disallowed role → 403.

The routes are enumerated from the application itself, so a route added later without a rule fails here.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.core.types import Role
from liveloop.server import PUBLIC_PATHS, create_app


def _allowed_roles(dependant: Any) -> frozenset[Role] | None:
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        found = _allowed_roles(dep)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory):
    home = tmp_path_factory.mktemp("routes")
    return list(iter_route_contexts(create_app(Settings(home=home, secret_key=generate_key())).routes))


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0123456789ab", path)


def test_every_route_has_a_role_rule_or_is_explicitly_public(app_routes):
    unruled = []
    for route in app_routes:
        path = route.path or ""
        if path in PUBLIC_PATHS:
            continue
        if isinstance(route.original_route, APIRoute | APIWebSocketRoute):
            if _allowed_roles(route.dependant) is None:
                unruled.append(path)
        elif isinstance(route.original_route, Mount | Route):
            unruled.append(path)  # plain routes and mounts cannot carry a role rule: they must be public
    assert unruled == [], f"routes without require_roles(...) and not in PUBLIC_PATHS: {unruled}"


def test_role_matrix_against_the_live_server(server, app_routes):
    checked = 0
    for route in app_routes:
        if not isinstance(route.original_route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        allowed = _allowed_roles(route.dependant)
        assert allowed is not None and Role.ADMIN in allowed
        url = f"{server.base_url}{_concrete(route.path)}"
        denied = sorted(r for r in Role if r not in allowed)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            resp = httpx.request(method, url, timeout=30)
            assert resp.status_code == 401, f"{method} {route.path} without a key gave {resp.status_code}"
            assert resp.headers["content-type"] == "application/problem+json"
            if denied:
                resp = httpx.request(method, url, headers=server.headers(denied[0].value), timeout=30)
                assert resp.status_code == 403, (
                    f"{method} {route.path} as {denied[0]} gave {resp.status_code}"
                )
                assert resp.json()["status"] == 403
            checked += 1
    assert checked >= 3


def test_websocket_routes_refuse_a_missing_key(server, app_routes):
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    for route in app_routes:
        if not isinstance(route.original_route, APIWebSocketRoute) or route.path in PUBLIC_PATHS:
            continue
        url = server.base_url.replace("http", "ws", 1) + _concrete(route.path)
        try:
            with connect(url, open_timeout=30) as ws:
                ws.recv(timeout=30)
            refused = False
        except ConnectionClosed as closed:
            refused = closed.rcvd is not None and closed.rcvd.code in (1008, 4401)
        except InvalidStatus as status:  # refused during the handshake
            refused = status.response.status_code in (401, 403)
        assert refused, f"websocket {route.path} accepted a connection without a key"


def test_keys_by_header_bearer_and_revocation(server):
    created = httpx.post(
        f"{server.base_url}/v1/keys", json={"role": "analyst", "name": "to-revoke"}, headers=server.headers()
    )
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["key_id"]
    assert httpx.get(f"{server.base_url}/metrics", headers={"X-API-Key": key}).status_code == 200
    assert (
        httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    listed = httpx.get(f"{server.base_url}/v1/keys", headers=server.headers()).json()
    assert any(k["key_id"] == key_id and k["role"] == "analyst" for k in listed)
    assert all("hash" not in k and "key" not in k for k in listed)
    assert httpx.delete(f"{server.base_url}/v1/keys/{key_id}", headers=server.headers()).status_code == 200
    resp = httpx.get(f"{server.base_url}/metrics", headers={"X-API-Key": key})
    assert resp.status_code == 401
    assert "revoked" in resp.json()["detail"]
    again = httpx.delete(f"{server.base_url}/v1/keys/{key_id}", headers=server.headers())
    assert again.status_code == 409


@pytest.mark.parametrize(
    "bad", ["nonsense", "ll_0123456789ab.wrongwrongwrongwrongwrong", "Bearer", "ll_" + "a" * 500]
)
def test_invalid_keys_are_401(server, bad):
    resp = httpx.get(f"{server.base_url}/metrics", headers={"X-API-Key": bad})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_a_tampered_secret_of_a_real_key_is_401(server):
    key = server.key("analyst")
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{server.base_url}/metrics", headers={"X-API-Key": tampered}).status_code == 401
