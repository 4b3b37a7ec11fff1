"""The Risk page on a real server over a simulated world with injected fraud: the review queue (open first,
each flag in plain words of the page's language), filters and paging, one flag with its evidence and
the accounts, comments and orders it names (users linked to User 360), confirm / dismiss / reopen, scan now,
who may see and act — over HTTP in Chinese and English, then in real Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from page_walk import screenshot, texts, untranslated

from liveloop.analytics import risk
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.datasets.simulator.fraud import FraudConfig, inject_fraud
from liveloop.warehouse import Warehouse

CONFIG = FraudConfig(
    campaign_share=0.3, p_joins=1, p_comments=1, p_likes=1, p_gifts=1, fresh_share=0.5, bots=(12, 25)
)
NAMES = {
    "zh": {"comment_burst": "评论刷屏", "linked_accounts": "关联账号（羊毛党）", "refund_abuse": "恶意退款"},
    "en": {
        "comment_burst": "Comment flood",
        "linked_accounts": "Linked accounts",
        "refund_abuse": "Refund abuse",
    },
}


def _seed(expected: dict[str, Any]) -> Any:
    def seed(wh: Warehouse) -> None:
        simulate_into_warehouse(wh, scale="small", seed=11, users=120, days=3)
        inject_fraud(wh, seed=3, config=CONFIG)
        expected["scan"] = risk.scan(wh)
        expected["flags"] = risk.list_flags(wh, limit=500)["flags"]

    return seed


@pytest.fixture
def risk_server(live_server_factory) -> tuple[Any, dict[str, Any]]:
    expected: dict[str, Any] = {}
    return live_server_factory(seed=_seed(expected)), expected


def _get(client: httpx.Client, path: str, lang: str) -> httpx.Response:
    client.cookies.set("ll_lang", lang)
    return client.get(path)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def _flag(expected: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in expected["flags"] if f["kind"] == kind)


def test_risk_pages_over_http(risk_server) -> None:
    srv, expected = risk_server
    flags = expected["flags"]
    burst, ring = _flag(expected, "comment_burst"), _flag(expected, "linked_accounts")
    with srv.client("analyst") as c:
        for lang in ("zh", "en"):
            page = _get(c, "/risk", lang)
            assert page.status_code == 200
            html = page.text
            assert '<a href="/risk"' in html  # its menu entry
            assert ("风险" if lang == "zh" else "Risk") in html
            queue = _section(html, "risk-queue")
            assert queue.count("<tr data-flag=") == len(flags)  # every flag is open: all in the queue
            for f in flags:
                assert f'href="/risk/{f["flag_id"]}"' in queue
            for name in NAMES[lang].values():
                assert name in queue
            row = re.search(rf'<tr data-flag="{burst["flag_id"]}".*?</tr>', queue, re.S)
            assert row is not None
            found = burst["evidence"]
            words = (
                f"{found['accounts']} 个账号在"
                if lang == "zh"
                else f"{found['accounts']} accounts posted near-identical"
            )
            assert words in row[0]
            assert f'href="/live?session={burst["session_id"]}"' in row[0]
            ring_row = re.search(rf'<tr data-flag="{ring["flag_id"]}".*?</tr>', queue, re.S)
            assert ring_row is not None
            assert ("收货地址" if lang == "zh" else "delivery address") in ring_row[0]
            assert 'id="scan-form"' in html and 'name="csrf_token"' in html
            assert ("检测器" if lang == "zh" else "What the detectors look for") in html

            detail = _get(c, f"/risk/{burst['flag_id']}", lang)
            assert detail.status_code == 200
            html = detail.text
            accounts = _section(html, "flag-accounts")
            users = {m["user_id"] for m in risk_members(srv, burst["flag_id"])}
            for user in users:
                assert f'href="/users?user_id={user}"' in accounts
            assert ("新注册且几乎无行为" if lang == "zh" else "new and barely active") in accounts
            assert "flag-comments" in html and "data-user-content" in _section(html, "flag-comments")
            assert 'id="confirm-button"' in html and 'id="dismiss-button"' in html
            assert "evidence" in _section(html, "flag-evidence")

            detail = _get(c, f"/risk/{ring['flag_id']}", lang)
            orders = _section(detail.text, "flag-orders")
            assert ("已支付" if lang == "zh" else "paid") in orders and "¥" in orders
            assert ("与另外" if lang == "zh" else "shares a delivery address with") in detail.text

        # filters and paging
        only = c.get("/risk", params={"kind": "refund_abuse", "status": "all"}).text
        assert _section(only, "risk-queue").count("<tr data-flag=") == 3
        assert c.get("/risk", params={"kind": "shoe_size"}).status_code == 422
        every = c.get("/risk", params={"kind": "", "status": "open"})  # the form's "all kinds"
        assert every.status_code == 200 and _section(every.text, "risk-queue").count("<tr data-flag=") == len(
            flags
        )
        assert "no-flags" in c.get("/risk", params={"status": "confirmed"}).text
        in_session = c.get("/risk", params={"session": burst["session_id"], "status": "all"}).text
        assert 'id="session-filter"' in in_session
        assert all(
            f["session_id"] == burst["session_id"]
            for f in flags
            if f'data-flag="{f["flag_id"]}"' in _section(in_session, "risk-queue")
        )
        assert 'id="export"' not in in_session  # flags name people: no bulk copy outside the warehouse

        # review: confirm with a note, a bad verdict shown on the page, reopen
        path = f"/risk/{burst['flag_id']}/review"
        done = c.post(
            path, data={"status": "confirmed", "note": "同一文案，13 个新号"}, follow_redirects=False
        )
        assert done.status_code == 303 and done.headers["location"] == f"/risk/{burst['flag_id']}"
        html = _get(c, f"/risk/{burst['flag_id']}", "zh").text
        assert "已确认" in html and 'id="reviewed-by"' in html and "同一文案，13 个新号" in html
        assert 'id="reopen-button"' in html and 'id="confirm-button"' not in html
        assert "no-flags" not in c.get("/risk", params={"status": "confirmed"}).text
        bad = c.post(path, data={"status": "maybe"})
        assert bad.status_code == 422 and 'id="review-error"' in bad.text
        again = c.post(path, data={"status": "open"}, follow_redirects=False)
        assert again.status_code == 303
        assert 'id="confirm-button"' in c.get(f"/risk/{burst['flag_id']}").text

        # scan now: nothing new (a finding is flagged once)
        scanned = c.post("/risk/scan", follow_redirects=False)
        assert scanned.status_code == 303 and scanned.headers["location"].endswith("&new=0")
        shown = _get(c, scanned.headers["location"], "zh").text
        assert 'id="scan-result"' in shown and "新增 0 个标记" in shown

        missing = _get(c, "/risk/rf_0000000000000000", "en")
        assert missing.status_code == 404 and 'id="flag-missing"' in missing.text
    for role, status in (("marketer", 200), ("host", 403), ("ingest", 403)):
        with srv.client(role, follow_redirects=False) as c:
            assert c.get("/risk").status_code == status, role
            assert c.get(f"/risk/{burst['flag_id']}").status_code == status, role
    with srv.client("host", follow_redirects=False) as c:
        assert c.post(f"/risk/{burst['flag_id']}/review", data={"status": "dismissed"}).status_code == 403
        assert c.post("/risk/scan").status_code == 403


def risk_members(srv: Any, flag_id: str) -> list[dict[str, Any]]:
    with srv.client("analyst") as c:
        return list(c.get(f"/v1/risk/flags/{flag_id}").json()["members"]["account"])


def test_risk_pages_in_chromium(risk_server, browser_page, dashboard_login) -> None:
    srv, expected = risk_server
    page = browser_page
    page.goto(f"{srv.base_url}/risk")
    dashboard_login(page, srv, "analyst")
    ring = _flag(expected, "linked_accounts")
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/risk")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == ("风险" if lang == "zh" else "Risk")
        assert page.locator("nav.sidebar a[href='/risk']").count() == 1
        assert page.locator("#flag-table tbody tr").count() == len(expected["flags"])
        assert untranslated(texts(page), lang) == []
        screenshot(page, "risk", lang)
        page.click(f"#flag-table a[href='/risk/{ring['flag_id']}']")
        page.wait_for_selector("#flag-accounts")
        assert untranslated(texts(page), lang) == []
        screenshot(page, "risk-flag", lang)
    # a reviewer's session confirms through the form (its CSRF token included)
    page.fill("#review-note", "same address")
    page.click("#confirm-button")
    page.wait_for_selector("#reopen-button")
    assert page.locator("#reviewed-by").count() == 1
    assert page.console_errors == []
