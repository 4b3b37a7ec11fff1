"""The Campaigns page on a real server: a campaign launched and delivered through a real webhook receiver,
its list, calendar and detail (funnel chart, skips, lift) in Chinese and English in real Chromium, the
builder's live audience preview, a refused draft showing its error by the field, and the four-eyes rule
(the drafter is not offered Approve)."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from page_walk import page_untranslated, screenshot

from liveloop.campaigns import audiences, engine, inbound, outbox
from liveloop.campaigns.audiences import AudienceSpec
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.engine import CampaignSpec
from liveloop.core.crypto import Cipher, cipher_of, generate_key
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "profiles"))
from profiles_shop import seed_built_shop

#: 10:00 in Shanghai on a day of the shop's data (outside quiet hours).
MORNING = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
SECRET = "whsec-test-0123456789"
#: Set to a folder (e.g. docs/screenshots) to keep screenshots of the Campaigns pages in both languages.


@pytest.fixture
def hook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A webhook receiver on 127.0.0.1 that accepts every message."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield received, f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _contacts(wh: Warehouse, cipher: Cipher) -> None:
    for (uid,) in wh.sql("SELECT user_id FROM users"):
        wh.sql(
            "UPDATE users SET email_enc = ?, phone_enc = ? WHERE user_id = ?",
            [
                cipher.encrypt(f"{uid}@example.com", context="users.email"),
                cipher.encrypt("13800138000", context="users.phone"),
                uid,
            ],
        )


def seeded(key: str, url: str, ids: dict[str, str]) -> Callable[[Warehouse], None]:
    """The shop, an app-push webhook, a campaign launched today and delivered as of 1 Feb 2026 (the shop's
    data) with a 30% holdout, opens and clicks reported, and a draft by another marketer."""

    def seed(wh: Warehouse) -> None:
        cipher = cipher_of(key)
        seed_built_shop(wh)
        _contacts(wh, cipher)
        set_provider(wh, cipher, Provider("app_push", "webhook", {"url": url}, SECRET))
        users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id")]
        consent.record(
            wh,
            [consent.ConsentChange(u, "marketing", "granted", channel="app_push") for u in users[:28]],
            actor="test",
        )
        aud = audiences.create(
            wh, "有画像的用户", AudienceSpec(rule='value_tier in ["high", "medium", "low", "none"]')
        )
        spec = {
            "name": "春季上新",
            "audience_id": aud["audience_id"],
            "channels": ["app_push"],
            "body": "{{ name }}，今晚 8 点直播上新",
            "holdout": 0.3,
        }
        made = engine.create(wh, CampaignSpec.from_dict(spec), actor="key:seed-marketer")
        cid = made["campaign_id"]
        engine.approve(wh, cid, actor="key:seed-admin")
        engine.launch(wh, cid, actor="key:seed-admin", now=MORNING)
        outbox.deliver(wh, cipher, outbox.DeliveryOptions(base_url="http://shop.test"), now=MORNING)
        sent = [r[0] for r in wh.sql("SELECT message_id FROM messages WHERE sent_at IS NOT NULL LIMIT 6")]
        events = [inbound.MessageEvent(m, "open", MORNING) for m in sent]
        events += [inbound.MessageEvent(m, "click", MORNING) for m in sent[:3]]
        inbound.record(wh, events, actor="test")
        draft = engine.create(
            wh, CampaignSpec.from_dict(spec | {"name": "会员日"}), actor="key:seed-marketer"
        )
        ids.update(launched=cid, draft=draft["campaign_id"], audience=aud["audience_id"])

    return seed


@pytest.fixture
def shop_server(live_server_factory, hook) -> tuple[Any, dict[str, str], list[dict[str, Any]]]:
    received, url = hook
    key = generate_key()
    ids: dict[str, str] = {}
    srv = live_server_factory(seed=seeded(key, url, ids), env={"LIVELOOP_SECRET_KEY": key})
    return srv, ids, received


def test_campaign_pages_in_both_languages(shop_server, browser_page, dashboard_login) -> None:
    srv, ids, received = shop_server
    assert len(received) > 10  # the seeded campaign went out through the webhook
    page = browser_page
    page.goto(f"{srv.base_url}/campaigns")
    dashboard_login(page, srv, "admin")
    assert page.locator("nav.sidebar a[href='/campaigns']").count() == 1
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/campaigns")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == ("营销活动" if lang == "zh" else "Campaigns")
        row = page.locator(f"#campaign-list tr[data-campaign='{ids['launched']}']")
        assert row.locator(".status").inner_text() == ("已完成" if lang == "zh" else "done")
        assert page.locator(f"#campaign-list tr[data-campaign='{ids['draft']}'] .status").inner_text() == (
            "草稿" if lang == "zh" else "draft"
        )
        assert page_untranslated(page, lang) == []
        screenshot(page, "campaigns", lang)

        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the calendar: launched today, shown today
        day = page.locator(f"#campaign-calendar td[data-day='{today.isoformat()}'] a.cal-item")
        assert day.count() == 2 and any(ids["launched"] in str(a.get_attribute("href")) for a in day.all())
        title = page.locator("#calendar-title").inner_text()
        assert title == (f"{today.year}年{today.month}月" if lang == "zh" else today.strftime("%B %Y"))
        page.click("#calendar-next")
        assert page.locator("#campaign-calendar a.cal-item").count() == 0
        assert page.locator("#calendar-empty").count() == 1
        assert page_untranslated(page, lang) == []
        page.click("#calendar-prev")
        assert page.locator("#campaign-calendar a.cal-item").count() == 2
        assert page_untranslated(page, lang) == []

        page.goto(f"{srv.base_url}/campaigns/{ids['launched']}")
        page.wait_for_selector("#campaign-funnel .chart .main-svg")
        assert page.locator("#campaign-funnel .chart g.trace path").count() >= 9  # a bar per funnel step
        steps = {
            r.get_attribute("data-step"): int(re.sub(r"\D", "", r.locator("td.num").inner_text()))
            for r in page.locator("#funnel-table tbody tr").all()
        }
        assert steps["targeted"] == 36 and steps["sent"] == len(received) and steps["opened"] == 6
        assert steps["clicked"] == 3 and steps["allowed"] >= steps["sent"]
        skip = page.locator("#skip-table tr[data-reason='no_consent'] td").first.inner_text()
        assert skip == ("未同意该渠道的营销信息" if lang == "zh" else "no marketing consent on the channel")
        assert page.locator("#lift-treated, #no-holdout").count() == 1
        if page.locator("#lift-ci").count():
            assert ("个百分点" if lang == "zh" else "pp") in page.locator("#lift-ci").inner_text()
        assert page.locator("#approve-form, #launch-form").count() == 0  # finished: nothing to approve
        assert page.locator("#drafted-by").inner_text() == "key:seed-marketer"
        assert page_untranslated(page, lang) == []
        screenshot(page, "campaign", lang)
    assert page.console_errors == []


def test_builder_preview_field_errors_and_the_four_eyes_rule(
    shop_server, browser_page, dashboard_login
) -> None:
    srv, ids, _ = shop_server
    page = browser_page
    page.goto(f"{srv.base_url}/campaigns")
    dashboard_login(page, srv, "admin")
    page.wait_for_load_state("networkidle")
    page.select_option("#f-segment", index=1)  # the live preview counts the segment's users
    page.check("#campaign-form input[name=channels][value=app_push]")
    page.wait_for_selector("#preview-body:not([hidden])")
    size = int(str(page.locator("#preview-size").get_attribute("data-size")))
    assert size > 0
    assert page.locator("#preview-sample tbody a[href^='/users?user_id=']").count() == min(size, 10)
    assert page.locator("#preview-reachable").inner_text() != "—"
    assert page_untranslated(page, "zh") == []
    screenshot(page, "campaign-builder", "zh")

    page.select_option("#f-segment", index=0)
    page.fill("#f-rule", "shoe_size > 40")  # an unknown feature: the preview says so by the rule field
    page.wait_for_selector("#preview-error:not([hidden])")
    assert page.locator("#preview-error").get_attribute("data-field") == "rule"
    assert page.console_errors == []
    page.fill("#f-name", "双十一预热")
    page.fill("#f-body", "{{ name }}，双十一预热开始")
    page.click("#create-draft")
    page.wait_for_load_state("networkidle")
    error = page.locator("#error-rule")
    assert error.count() == 1 and "shoe_size" in error.inner_text() and "规则" in error.inner_text()
    assert page.locator("#f-rule").input_value() == "shoe_size > 40"  # the form is shown again, filled

    page.fill("#f-rule", 'value_tier = "high"')
    page.click("#create-draft")
    page.wait_for_url(re.compile(r".*/campaigns/cmp_[^/?]+$"))
    assert page.locator("#campaign-status").inner_text() == "草稿"
    assert page.locator("#approve-form").count() == 0  # the admin drafted it: another admin approves
    assert page.locator("#own-draft").count() == 1
    assert page.locator("#dry-run-form").count() == 1

    page.goto(f"{srv.base_url}/campaigns/{ids['draft']}")  # drafted by someone else: approve, dry run
    page.click("#approve-form button")
    page.wait_for_load_state("networkidle")
    assert page.locator("#campaign-status").inner_text() == "已批准"
    assert page.locator("#approved-by").inner_text() == "test-admin"
    page.click("#dry-run-form button")
    page.wait_for_selector("#campaign-plan")
    assert int(re.sub(r"\D", "", page.locator("#plan-targeted").inner_text())) == 36
    assert page.locator("#plan-cost").inner_text().startswith("¥")
    assert page_untranslated(page, "zh") == []
    leftover = [e for e in page.console_errors if "status of 422" not in e]  # the refused form's answer
    assert leftover == []


def test_roles_and_the_preview_endpoint(shop_server) -> None:
    srv, ids, _ = shop_server
    marketer, analyst = srv.client("marketer"), srv.client("analyst")
    assert "campaign-builder" in marketer.get("/campaigns").text
    listed = analyst.get("/campaigns")
    assert listed.status_code == 200 and "campaign-builder" not in listed.text  # analysts only read
    assert analyst.post("/campaigns", data={"name": "x"}).status_code == 403
    assert srv.client("host").get("/campaigns").status_code == 403
    assert marketer.post(f"/campaigns/{ids['draft']}/approve").status_code == 403  # admins approve

    bad = marketer.get("/campaigns/audience-preview", params={"rule": "shoe_size > 40"}).json()
    assert bad["ok"] is False and bad["field"] == "rule" and "shoe_size" in bad["detail"]
    stored = marketer.get(
        "/campaigns/audience-preview", params={"audience_id": ids["audience"], "channel": "app_push"}
    ).json()
    assert stored["ok"] and stored["size"] == 36 and stored["reachable"] == 28

    soon = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    form = {
        "name": "周末清仓",
        "audience_id": ids["audience"],
        "channels": "app_push",
        "body": "{{ name }}，周末清仓",
        "kind": "promotion",
        "holdout": "20",
        "start": soon.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M"),  # display zone
    }
    made = marketer.post("/campaigns", data=form)
    assert made.status_code == 303, made.text
    cid = made.headers["location"].rsplit("/", 1)[1]
    c = srv.client("admin").get(f"/v1/campaigns/{cid}").json()
    assert c["spec"]["holdout"] == 0.2 and c["created_by"].startswith("key:")
    assert datetime.fromisoformat(c["start_ts"]) == soon
    no_channel = marketer.post("/campaigns", data=form | {"channels": "sms"})
    assert no_channel.status_code == 422 and 'id="error-channels"' in no_channel.text
    drafter = marketer.get(f"/campaigns/{cid}", headers={"Accept-Language": "en"})
    assert 'id="approve-form"' not in drafter.text and 'id="launch-form"' not in drafter.text
