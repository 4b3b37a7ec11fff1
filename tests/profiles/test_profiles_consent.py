"""A user who refuses profiling has no profile, no tags, no segment, no score and no interest read: the
built profile goes at once, and no later build reads their rows."""

from __future__ import annotations

import pytest
from profiles_shop import seed_built_shop

from liveloop.privacy import consent
from liveloop.privacy.consent import ConsentChange
from liveloop.profiles import BuildOptions, build_profiles, predict_interest
from liveloop.warehouse import Warehouse


@pytest.mark.slow
def test_refusing_profiling_removes_the_profile_and_every_later_build_skips_the_user(shop: Warehouse) -> None:
    opts = BuildOptions(k_max=4)
    build_profiles(shop, opts)
    users = shop.sql("SELECT count(*) FROM profiles")[0][0]
    assert shop.sql("SELECT count(*) FROM profiles WHERE user_id = 'u004'")[0][0] == 1
    consent.record(shop, [ConsentChange("u004", "profiling", "revoked", source="app")], actor="test")
    assert shop.sql("SELECT count(*) FROM profiles WHERE user_id = 'u004'")[0][0] == 0  # gone at once
    assert predict_interest(shop, "u004")["explanation"] == "not computed: the user refused profiling"
    summary = build_profiles(shop, opts)
    assert summary["users"] == users - 1
    assert shop.sql("SELECT count(*) FROM profiles WHERE user_id = 'u004'")[0][0] == 0
    consent.record(shop, [ConsentChange("u004", "profiling", "granted", source="app")], actor="test")
    build_profiles(shop, opts)
    assert shop.sql("SELECT count(*) FROM profiles WHERE user_id = 'u004'")[0][0] == 1  # a new yes counts


def test_user_360_shows_consents_and_explained_decisions(
    live_server_factory, browser_page, dashboard_login
) -> None:
    server = live_server_factory(seed=seed_built_shop)
    with server.client("ingest") as app:
        grant = {
            "changes": [{"purpose": "marketing", "status": "granted", "channel": "email", "proof": "form 3"}]
        }
        assert app.post("/v1/users/u001/consents", json=grant).status_code == 200
        refuse = {"changes": [{"purpose": "profiling", "status": "revoked"}]}
        assert app.post("/v1/users/u002/consents", json=refuse).status_code == 200
    with server.client("analyst") as api:
        gone = api.get("/v1/users/u002/profile")
        assert gone.status_code == 404 and "refused profiling" in gone.json()["detail"]
    page = browser_page
    dashboard_login(page, server, "analyst")
    page.goto(f"{server.base_url}/users?user_id=u001")
    page.wait_for_selector("#user-consents")
    email = page.locator('#user-consents tr[data-purpose="marketing"][data-channel="email"]')
    assert email.get_attribute("data-allowed") == "true"
    sms_default = page.locator('#user-consents tr[data-purpose="marketing"][data-channel="all"]')
    assert sms_default.get_attribute("data-allowed") == "false"  # opt-in: no grant, no message
    said = page.locator("#user-decisions").inner_text()
    assert "营销消息" in said or "marketing" in said
    page.goto(f"{server.base_url}/users?user_id=u002")
    page.wait_for_selector("#user-consents")
    assert page.locator("#user-features").count() == 0  # no profile is shown: none is kept
    assert page.locator("#user-error").inner_text()
    refused = page.locator('#user-consents tr[data-purpose="profiling"]')
    assert refused.get_attribute("data-allowed") == "false"
    assert page.console_errors == []
