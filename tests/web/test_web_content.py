"""The Content page on a real server over a small simulated world, in real Chromium: tonight's script for a
session (a line per lineup product, an opening, an interaction plan), copy per channel within each
channel's length limit, the compliance check with its findings marked in the text, an unknown product
shown as an error by its form, who may open the page, and the page in Chinese and English."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from page_walk import page_untranslated, screenshot

from liveloop.warehouse import Warehouse

#: Set to a folder (e.g. docs/screenshots) to keep screenshots of the Content page in both languages.
CHECKED = "全网最低价，7天美白\n补水保湿面霜"


def small_world(lineups: dict[str, list[str]]) -> Callable[[Warehouse], None]:
    """A small simulated world with its profiles built; ``lineups`` gets every session's lineup (the
    server holds the warehouse afterwards)."""

    def seed(wh: Warehouse) -> None:
        from liveloop.datasets.simulator import simulate_into_warehouse
        from liveloop.profiles import build_profiles

        simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
        build_profiles(wh)
        lineups.update(
            (sid, list(lineup)) for sid, lineup in wh.sql("SELECT session_id, lineup FROM live_sessions")
        )

    return seed


@pytest.fixture
def content_server(live_server_factory) -> tuple[Any, dict[str, list[str]]]:
    lineups: dict[str, list[str]] = {}
    return live_server_factory(seed=small_world(lineups)), lineups


def _write_script(page: Any) -> str:
    """Pick the first session in the picker, submit, wait for the script; returns the session id."""
    session_id = str(page.locator("#script-session option:not([value=''])").first.get_attribute("value"))
    page.select_option("#script-session", session_id)
    page.click("#script-form button[type=submit]")
    page.wait_for_selector("#script")
    return session_id


def _lengths(page: Any) -> list[tuple[int, int]]:
    cells = page.locator("#copy-variants tr.variant td.num").all_inner_texts()
    return [(int(a), int(b)) for a, b in (re.findall(r"\d+", c) for c in cells)]


def test_script_copy_and_check(content_server, browser_page, dashboard_login) -> None:
    srv, lineups = content_server
    page = browser_page
    page.goto(f"{srv.base_url}/content")
    dashboard_login(page, srv, "marketer")
    assert page.url.rstrip("/").endswith("/content")
    assert page.locator("nav.sidebar a[href='/content']").count() == 1
    assert page.locator("h1").inner_text() == "内容"  # the browser asked for zh-CN

    session_id = _write_script(page)  # 1. tonight's script for the first session offered
    assert f"session={session_id}" in page.url
    lineup = lineups[session_id]
    products = page.locator("#script-products > li[data-product]")
    assert products.count() == len(lineup) > 0
    assert sorted(str(p.get_attribute("data-product")) for p in products.all()) == sorted(lineup)
    for p in products.all():  # each product has its name and its lines
        assert p.locator("strong").inner_text().strip()
        assert p.locator("li.line").count() > 0
    assert page.locator("#script h3 + ul li.line-opening").count() >= 1  # the opening
    assert page.locator("#script-interactions li").count() >= 1  # the interaction plan
    assert page.locator("#error-session").count() == 0

    product_id = lineup[0]  # 2. copy for a lineup product on push and SMS, within each limit
    for channel, limit in (("push", 40), ("sms", 70)):
        page.fill("#copy-product", product_id)
        page.select_option("#copy-channel", channel)
        page.click("#copy-form button[type=submit]")
        page.wait_for_selector("#copy-variants")
        assert f"channel={channel}" in page.url
        assert page.locator("#error-product").count() == 0
        lengths = _lengths(page)
        assert lengths, f"no {channel} copy for {product_id}"
        assert all(shown_limit == limit and 0 < n <= limit for n, shown_limit in lengths), lengths
        variants = page.locator("#copy-variants tr.variant td[data-user-content]").all_inner_texts()
        assert len(variants) == len(lengths)
        assert all(len(v.split("\n", 1)[0]) <= limit for v in variants)
        if channel == "sms":
            assert all("回T退订" in v for v in variants), variants
        assert page.locator("#copy-variants tr.variant[data-verdict=block]").count() == 0  # never offered

    page.fill("#check-text", CHECKED)  # 3. the check marks what it found, line by line
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#check-results")
    rows = page.locator("#check-results tr")
    assert rows.count() == 2
    first, second = rows.nth(0), rows.nth(1)
    assert first.get_attribute("data-verdict") == "block"
    marks = first.locator("mark.finding-block")
    assert marks.count() >= 1
    assert "最低价" in marks.all_inner_texts()
    assert all(m.get_attribute("data-rule") for m in first.locator("mark.finding").all())
    assert first.locator("ul.findings li.finding-block").count() >= 1
    assert second.get_attribute("data-verdict") == "pass"
    assert second.locator("mark").count() == 0
    assert page.locator("#check-text").input_value() == CHECKED  # the form keeps the text

    page.goto(f"{srv.base_url}/content?product=p_no_such_product&channel=push")  # 4. an unknown id
    error = page.locator("#error-product")
    assert error.count() == 1
    assert "p_no_such_product" in error.inner_text() and "unknown" in error.inner_text()
    assert page.locator("#copy-variants").count() == 0
    assert page.locator("#copy-product").input_value() == "p_no_such_product"
    assert page.console_errors == []


def test_roles(content_server) -> None:
    srv, _ = content_server
    for role in ("marketer", "host", "analyst", "admin"):
        with srv.client(role) as client:
            resp = client.get("/content")
            assert resp.status_code == 200, (role, resp.text[:300])
            assert 'id="script-form"' in resp.text
    with srv.client("ingest") as ingest:
        assert ingest.get("/content").status_code == 403
        assert ingest.get("/content", params={"text": CHECKED}).status_code == 403
    with srv.client(None) as anonymous:
        assert anonymous.get("/content").status_code == 401
    with srv.client("marketer") as client:  # an unknown id or a bad choice: the page, not a 500
        unknown = client.get("/content", params={"product": "p_no_such_product"})
        assert unknown.status_code == 200 and 'id="error-product"' in unknown.text
        bad = client.get("/content", params={"session": "../../etc/passwd", "channel": "fax"})
        assert bad.status_code == 200 and 'id="error-session"' in bad.text


def test_content_page_in_both_languages(content_server, browser_page, dashboard_login) -> None:
    srv, lineups = content_server
    page = browser_page
    page.goto(f"{srv.base_url}/content")
    dashboard_login(page, srv, "host")
    session_id = _write_script(page)
    product_id = lineups[session_id][0]
    query = f"session={session_id}&product={product_id}&channel=sms&text=全网最低价，7天美白%0A补水保湿面霜"
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/content")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == ("内容" if lang == "zh" else "Content")
        assert page_untranslated(page, lang) == []  # the empty page
        page.goto(f"{srv.base_url}/content?{query}")
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        assert page.locator("#script-products > li[data-product]").count() > 0
        assert page.locator("#copy-variants tr.variant").count() > 0
        assert page.locator("#check-results tr[data-verdict=block] mark.finding-block").count() >= 1
        assert page_untranslated(page, lang) == []
        # what the check leaves out as data: the picker's options (titles) and the text box (the user's)
        placeholder = page.locator("#check-text").get_attribute("placeholder")
        assert placeholder == ("每行一条文案" if lang == "zh" else "One piece of copy per line")
        options = " ".join(page.locator("#script-session option").all_inner_texts())
        assert ("upcoming" if lang == "zh" else "即将开播") not in options
        screenshot(page, "content", lang)
    assert page.console_errors == []
