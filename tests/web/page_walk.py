"""The dashboard's language check, shared by the page-walk test and the screenshot run.

``texts(page)`` reads every text a reader sees on a page (text nodes, chart legends and axes, titles,
placeholders, labels), leaving out what the template marks as data (``data-user-content``: names,
comment texts, titles from the data), code (``<code>`` or in backticks) and scripts.
``untranslated(texts, lang)`` lists the runs in the other language: on Chinese pages any English word
(ids, numbers, units and the few names in ``ALLOWED_WORDS`` aside), on English pages any Chinese
character.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

#: Words that stay as they are on Chinese pages: brands, metric acronyms, the language switch.
ALLOWED_WORDS = frozenset(
    {
        "liveloop", "English", "GMV", "AOV", "ROI", "CTR", "CVR", "API", "CLV", "NDCG", "MRR", "AUC",
        "BG/NBD", "NLP", "ID", "ALS", "BPR", "SASRec", "k-NN", "LSTM", "GRU", "Asia/Shanghai", "GPM",
        "CAC", "ROAS", "CSV", "Excel", "PDF", "HTML", "UV", "Swisse", "babycare",
    }
)  # fmt: skip
#: Texts that stay as they are on English pages.
ALLOWED_EN = frozenset({"中文"})
_WORD = re.compile(r"[A-Za-z0-9_@./+'’&-]*[A-Za-z]{2,}[A-Za-z0-9_@./+'’&-]*")
_CODE = re.compile(r"`[^`]*`")  # a command in backticks
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

_READ_TEXTS = """() => {
  const skip = "[data-user-content], code, script, style, noscript, template, .modebar";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) { continue; }
    const t = n.textContent.trim();
    if (t) { out.push(t); }
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], input[type=submit]")) {
    if (el.closest(skip)) { continue; }
    for (const a of ["placeholder", "title", "aria-label", "value"]) {
      if (a === "value" && el.type !== "submit") { continue; }
      const v = el.getAttribute(a);
      if (v && v.trim()) { out.push(v.trim()); }
    }
  }
  out.push(document.title);
  return out;
}"""


def texts(page: Any) -> list[str]:
    """Every text a reader sees on ``page`` (data marked ``data-user-content`` left out)."""
    return list(page.evaluate(_READ_TEXTS))


def untranslated(runs: list[str], lang: str) -> list[str]:
    """The runs of ``runs`` that are in the other language than ``lang``."""
    found = []
    for run in runs:
        run = _CODE.sub("", run)
        if lang == "zh":
            words = [w.strip("./-'’") for w in _WORD.findall(run)]
            bad = [w for w in words if w not in ALLOWED_WORDS and not re.search(r"\d", w)]
            if bad:
                found.append(f"{run!r} ({', '.join(bad)})")
        elif run not in ALLOWED_EN and _CJK.search(run):
            found.append(repr(run))
    return found


def page_untranslated(page: Any, lang: str) -> list[str]:
    """What the page shows in the wrong language (see :func:`untranslated`)."""
    return untranslated(texts(page), lang)


def screenshot(page: Any, name: str, lang: str) -> None:
    """A full-page screenshot to ``$LIVELOOP_SCREENSHOTS/NAME-LANG.png`` when that variable is set."""
    shots = os.environ.get("LIVELOOP_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{name}-{lang}.png"), full_page=True)


def first_link(page: Any, selector: str) -> str:
    """The href of the first link matching ``selector`` (fails when the page has none)."""
    href = page.locator(selector).first.get_attribute("href", timeout=5_000)
    assert href, f"no link {selector} on {page.url}"
    return str(href)


def walk(page: Any, base: str, lang: str, shots: Path | None = None) -> dict[str, list[str]]:
    """Visit every page (and a segment's members, a user, a product, a session, a risk flag when there is
    one, a search) in ``lang``; returns the untranslated runs by path (``_visited``: the paths). ``page``
    is logged in. With ``shots``, a screenshot of each page is saved there as ``<name>-<lang>.png``."""
    page.goto(f"{base}/lang?lang={lang}&next=/overview")
    found: dict[str, list[str]] = {}
    visited: list[str] = []

    def visit(name: str, path: str, focus: str | None = None) -> None:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        visited.append(path)
        bad = untranslated(texts(page), lang)
        if bad:
            found[path] = bad
        if shots is not None:
            if focus:
                page.locator(focus).scroll_into_view_if_needed()
            page.screenshot(path=str(shots / f"{name}-{lang}.png"))

    visit("overview", "/overview")
    visit("data", "/data")
    visit("kpis", "/kpis?grain=segment&days=30")
    visit("channels", "/channels")
    visit("experiments", "/experiments")
    visit("experiment", first_link(page, "#experiment-table tbody a[href^='/experiments/']"))
    visit("forecasts", "/forecasts")
    visit("pricing", "/pricing")
    visit("sessions", "/sessions")
    visit("risk", "/risk?status=all")
    flag = page.locator("#flag-table tbody a[href^='/risk/']")
    if flag.count():  # the world's risk scan may honestly find nothing
        visit("risk-flag", str(flag.first.get_attribute("href")))
    visit("reports", "/reports")
    visit("segments", "/segments")
    visit("segment-members", first_link(page, "#segment-table tbody a[href^='/users?segment=']"))
    visit("users", "/users")
    user = first_link(page, "#user-list tbody a[href^='/users?user_id=']")
    visit("user-360", user)
    user_id = user.split("user_id=", 1)[1]
    visit("recommendations", "/recommendations")
    visit("user-recommendations", f"/recommendations?user={user_id}", "#rec-user")
    visit("products", "/products")
    visit("product", first_link(page, "#product-list tbody a[href^='/products/']"))
    visit("live-picker", "/live")
    visit("live-review", first_link(page, "#recent-sessions tbody a[href^='/live?session=']"))
    page.goto(f"{base}/overview")
    page.fill("#find-q", user_id[:2])  # the header's search box, on any page
    page.click("#find button[type=submit]")
    page.wait_for_url("**/search?q=*")
    visit("search", page.url.removeprefix(base))
    found["_visited"] = visited
    return found
