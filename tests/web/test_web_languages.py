"""Every dashboard page in Chinese and in English, on the demo world, in real Chromium: no string of the
other language (data marked as such aside), and the catalogue has a translation for every marked string."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from page_walk import texts, untranslated, walk

from liveloop.core.config import Settings
from liveloop.demo import STEPS, DemoContext

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "liveloop" / "web" / "locale"
#: Set to a folder (e.g. docs/screenshots) to save a screenshot of every page in both languages.
SHOTS = os.environ.get("LIVELOOP_SCREENSHOTS")


def _demo_world(wh) -> None:
    """The demo's steps (a small simulated world, profiles, recommender, a replayed live session)."""
    settings = Settings(home=wh.path.parent, data_home=Path(os.environ.get("LIVELOOP_DATA_HOME", "")))
    ctx = DemoContext(settings=settings, wh=wh, seed=5, overrides={"users": 80, "days": 2})
    for name, step in STEPS:
        if name != "admin_key":
            ctx.summary[name] = step(ctx)


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_in_both_languages(
    live_server_factory, browser_page, dashboard_login, request, monkeypatch
):
    if not os.environ.get("LIVELOOP_NLP_MODEL"):  # a given comment model is used as is; else the small one
        monkeypatch.setenv("LIVELOOP_NLP_MODEL", str(request.getfixturevalue("small_comment_model")))
    server = live_server_factory(seed=_demo_world)
    shots = Path(SHOTS) if SHOTS else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    page = browser_page
    for lang in ("zh", "en"):  # the login page, before a session
        page.goto(f"{server.base_url}/lang?lang={lang}&next=/login")
        assert untranslated(texts(page), lang) == [] and page.locator("#login-form").count() == 1
        if shots:
            page.screenshot(path=str(shots / f"login-{lang}.png"))
    dashboard_login(page, server, "admin")
    for lang in ("zh", "en"):
        found = walk(page, server.base_url, lang, shots)
        visited = found.pop("_visited")
        flagged = any(p.startswith("/risk/") for p in visited)  # a flag's page when the demo scan found one
        assert len(visited) == 22 + flagged, visited
        assert found == {}, f"untranslated on the {lang} pages: {found}"
        for section in ("#search-users", "#search-products", "#search-sessions"):  # ids find all three
            assert page.locator(f"{section} li a").count() > 0
    assert page.locator("h1").inner_text().startswith("Find")
    page.click("#lang-switch")  # the switch keeps the page and its query
    assert "/search?q=" in page.url and page.locator("h1").inner_text().startswith("搜索")
    assert page.console_errors == []


def test_the_check_finds_the_other_language():
    zh_page = [
        "概览",
        "GMV 与订单数",
        "用户 s5u0000016",
        "Top products",
        "渠道: in_app",
        "运行 `liveloop demo`",
    ]
    assert untranslated(zh_page, "zh") == ["'Top products' (Top, products)", "'渠道: in_app' (in_app)"]
    en_page = ["Overview", "中文", "Orders 订单", "Top products，"]
    assert untranslated(en_page, "en") == ["'Orders 订单'", "'Top products，'"]


def test_the_catalogue_translates_every_marked_string(tmp_path):
    """A fresh extraction (babel.cfg) has nothing the Chinese catalogue lacks, fuzzy or empty."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {(m.context, m.id) for m in read_po(fh) if m.id}
    with (LOCALE / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        zh = {(m.context, m.id): m for m in read_po(fh) if m.id}
    assert len(wanted) > 250
    missing = sorted((m for m in wanted if m not in zh or not zh[m].string or zh[m].fuzzy), key=str)
    assert missing == [], f"run `make i18n` and translate: {missing}"
    for key in wanted:  # placeholders survive translation
        msgid = key[1]
        for name in ("%(command)s", "%(total)s", "%(first)s", "%(last)s", "%(n)s", "%(tags)s", "%(version)s"):
            assert (name in msgid) == (name in zh[key].string), (msgid, zh[key].string)
