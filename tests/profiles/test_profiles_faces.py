"""Profiles through a real uvicorn server and headless Chromium: profile, tags, segments, rebuild job."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from profiles_shop import seed_built_shop

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_profile_api_tag_removal_segments_and_rebuild(
    live_server_factory, browser_page, dashboard_login
) -> None:
    server = live_server_factory(seed=seed_built_shop)
    with server.client("analyst") as api:
        segments = api.get("/v1/segments").json()["items"]
        assert len(segments) >= 3 and sum(s["size"] for s in segments) == 36
        assert len({s["name_en"] for s in segments}) == len(segments)
        profile = api.get("/v1/users/u000/profile").json()
        assert profile["segment"]["segment_id"] in {s["segment_id"] for s in segments}
        assert all(f["explanation"] for f in profile["features"] + profile["scores"])
        tag = profile["tags"][0]["tag"]
        removed = api.delete(f"/v1/users/u000/tags/{quote(tag)}")
        assert removed.status_code == 200, removed.text
        assert tag not in [t["tag"] for t in api.get("/v1/users/u000/profile").json()["tags"]]

        missing = api.get("/v1/users/nobody/profile")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert missing.json()["field"] == "user_id"
        bad = api.delete("/v1/users/u000/tags/nonsense")
        assert bad.status_code == 422 and bad.json()["field"] == "tag"
        interest = profile["interest"]
        assert interest["categories"] and interest["explanation"].startswith("LSTM next-category model")
        similar = api.get("/v1/users/u000/similar", params={"k": 3})
        assert similar.status_code == 200, similar.text
        assert len(similar.json()["items"]) == 3 and all(i["explanation"] for i in similar.json()["items"])
        zero = api.get("/v1/users/u000/similar", params={"k": 0})
        assert zero.status_code == 422 and zero.json()["field"].endswith("k")
        assert api.get("/v1/users/nobody/similar").status_code == 404

    with server.client("ingest") as app_backend:  # an app removes a tag on the user's behalf
        seen = app_backend.get("/v1/users/u002/tags")
        assert seen.status_code == 200, seen.text
        own_tag = seen.json()["tags"][0]["tag"]
        gone = app_backend.delete(f"/v1/users/u002/tags/{quote(own_tag)}")
        assert gone.status_code == 200 and own_tag not in gone.json()["tags"]
        after_removal = app_backend.get("/v1/users/u002/tags").json()
        assert own_tag in [t["tag"] for t in after_removal["removed_tags"]]
        assert after_removal["removed_tags"][0]["removed_by"].startswith("api:ingest:")
        assert app_backend.get("/v1/users/u002/profile").status_code == 403  # tags only
        assert app_backend.get("/v1/users/u002/similar").status_code == 403
        assert app_backend.get("/v1/users/ghost/tags").status_code == 404

    with server.client("analyst") as api:
        job = api.post("/v1/profiles/rebuild")
        assert job.status_code == 202
        job_id = job.json()["job_id"]
        for _ in range(600):
            state = api.get(f"/v1/profiles/jobs/{job_id}").json()
            if state["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert state["status"] == "succeeded", state
        assert state["result"]["users"] == 36 and state["progress"] == 1.0
        after = api.get("/v1/users/u000/profile").json()
        assert tag not in [t["tag"] for t in after["tags"]] and tag in after["removed_tags"]
        kept_out = api.get("/v1/users/u002/profile").json()
        assert own_tag not in [t["tag"] for t in kept_out["tags"]]  # the app's removal survives the rebuild
        if own_tag.startswith("category:"):
            assert own_tag[9:] not in [c["category"] for c in kept_out["interest"]["categories"]]
        assert after["model_version"] != profile["model_version"]
        segments = api.get("/v1/segments").json()["items"]
    with server.client("host") as host:
        assert host.get("/v1/segments").status_code == 403

    page = browser_page
    dashboard_login(page, server, "analyst")
    page.goto(f"{server.base_url}/segments")
    page.wait_for_selector(".chart .main-svg")
    assert page.locator(".chart").count() == 3
    assert page.locator("#segment-table tbody tr").count() == len(segments)
    no_messages = {"no channel data (no messages sent)", "无触达数据（未向该群发送消息）"}
    assert page.locator("#segment-table td.channels").first.inner_text() in no_messages  # never a bare dash
    assert page.locator(".chart").nth(1).locator("g.trace").count() == len(segments)  # one radar trace each
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-segments.png"), full_page=True)
    page.goto(f"{server.base_url}/users?user_id=u001")
    page.wait_for_selector("#user-features")
    first = page.locator("#user-tags .tag").first.inner_text()
    page.locator("#user-tags button.remove-tag").first.click()
    page.wait_for_load_state("networkidle")
    assert first not in page.locator("#user-tags").inner_text()
    assert page.locator("#user-timeline tr").count() > 0
    assert page.locator("#user-interest tr").count() > 0 and page.locator("#user-interest-why").inner_text()
    assert page.locator("#user-similar a").count() == 8
    page.locator("#user-similar a").first.click()
    page.wait_for_selector("#user-features")
    assert "user_id=" in page.url and "u001" not in page.url
    page.screenshot(path=str(ARTIFACTS / "dashboard-user360.png"), full_page=True)
    assert page.console_errors == []


def test_user_directory_finds_users_by_segment_stage_tier_id_and_phone(
    live_server_factory, browser_page, dashboard_login
) -> None:
    server = live_server_factory(seed=seed_built_shop)
    with server.client("admin") as admin:
        assert admin.patch("/v1/users/u005", json={"phone": "13800138005"}).status_code == 200
    with server.client("analyst") as api:
        everyone = api.get("/v1/profiles", params={"limit": 200}).json()
        assert everyone["total"] == 36 and len(everyone["users"]) == 36 and everyone["next_offset"] is None
        spend = [u["spend"] or 0 for u in everyone["users"]]
        assert spend == sorted(spend, reverse=True)  # biggest spenders first
        seg = everyone["users"][0]["segment_id"]
        members = api.get("/v1/profiles", params={"segment": seg, "limit": 5}).json()
        size = next(s["size"] for s in api.get("/v1/segments").json()["items"] if s["segment_id"] == seg)
        assert members["total"] == size and all(u["segment_id"] == seg for u in members["users"])
        page2 = api.get("/v1/profiles", params={"segment": seg, "limit": 5, "offset": 5}).json()
        assert not {u["user_id"] for u in page2["users"]} & {u["user_id"] for u in members["users"]}
        stage = everyone["users"][-1]["lifecycle"]
        staged = api.get("/v1/profiles", params={"lifecycle": stage, "value_tier": "none"}).json()
        assert all(u["lifecycle"] == stage and u["value_tier"] == "none" for u in staged["users"])
        by_phone = api.get("/v1/profiles", params={"q": "+86 138 0013 8005"}).json()
        assert [u["user_id"] for u in by_phone["users"]] == ["u005"]  # through the blind index
        by_id = api.get("/v1/profiles", params={"q": "U01"}).json()
        assert {u["user_id"] for u in by_id["users"]} == {f"u01{i}" for i in range(10)}
        bad = api.get("/v1/profiles", params={"lifecycle": "asleep"})
        assert bad.status_code == 422 and bad.json()["field"] == "lifecycle"
        assert api.get("/v1/profiles", params={"limit": 0}).status_code == 422
    with server.client("host") as host:
        assert host.get("/v1/profiles").status_code == 403

    page = browser_page
    dashboard_login(page, server, "analyst")
    page.context.add_cookies([{"name": "ll_lang", "value": "zh", "url": server.base_url}])
    page.goto(f"{server.base_url}/segments")
    page.locator("#segment-table tbody tr a").first.click()
    page.wait_for_selector("#user-list")
    first_seg = page.locator("#user-filter select[name=segment]").input_value()
    assert f"segment={first_seg}" in page.url and page.locator("#user-list tbody tr").count() > 0
    assert "共" in page.locator("#user-count").inner_text()
    page.fill("#user-filter input[name=q]", "13800138005")
    page.select_option("#user-filter select[name=segment]", "")
    page.click("#user-filter button[type=submit]")
    page.wait_for_selector("#user-list")
    assert page.locator("#user-list tbody tr").count() == 1
    page.locator("#user-list tbody tr a").first.click()
    page.wait_for_selector("#user-features")
    assert "user_id=u005" in page.url
    assert page.console_errors == []
    refused = page.goto(f"{server.base_url}/users?lifecycle=asleep")
    assert refused is not None and refused.status == 422
    said = page.locator("#user-error").inner_text()
    assert "asleep" in said and "未知的生命周期阶段" in said  # in the page's language, naming the value
