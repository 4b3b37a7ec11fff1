"""Reports: the time to write a post-live report (data, HTML and PDF in both languages; goal ≤ 30 s) and a
weekly report, on the demo's small world and on the medium world; the PDF printed by liveloop (Chromium's
``--print-to-pdf``) beside the same HTML printed by Playwright's ``page.pdf`` in the same run.

``BENCH_REPORT_SCALES`` (default ``small,medium``) picks the simulated worlds.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from liveloop.analytics.reports import archive, render
from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

SCALES = [s for s in os.environ.get("BENCH_REPORT_SCALES", "small,medium").split(",") if s]


def _clock(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _playwright_pdf(page_html: str) -> float:
    """The same page printed by Playwright (headless Chromium, page.pdf), launch included as ours is."""
    from playwright.sync_api import sync_playwright

    t = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=render.chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.set_content(page_html)
        page.pdf(format="A4")
        browser.close()
    return time.perf_counter() - t


def _one(wh: Warehouse, kind: str, session_id: str | None) -> dict[str, Any]:
    build_s, data = _clock(lambda: archive.build(wh, kind, session_id=session_id))
    data = archive.jsonable(data | {"generated_at": None})
    html_s, pages = _clock(lambda: {lang: render.html(data, lang) for lang in render.LANGS})
    pdf_s, pdfs = _clock(lambda: {lang: render.pdf(page) for lang, page in pages.items()})
    peer_s = sum(_playwright_pdf(page) for page in pages.values())
    return {
        "kind": kind,
        "data_s": round(build_s, 3),
        "html_both_languages_s": round(html_s, 3),
        "pdf_both_languages_s": round(pdf_s, 3),
        "total_s": round(build_s + html_s + pdf_s, 3),
        "pdf_bytes": {lang: len(b) for lang, b in pdfs.items()},
        "peer_playwright_pdf_both_languages_s": round(peer_s, 3),
        "goal_s": 30.0,
        "meets_goal": build_s + html_s + pdf_s <= 30.0,
    }


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "worlds": []}
    for scale in SCALES:
        with tempfile.TemporaryDirectory() as tmp:
            wh = Warehouse.open(Settings(home=Path(tmp)))
            world = simulate_into_warehouse(wh, scale=scale, seed=7)
            busiest = wh.sql(
                "SELECT session_id FROM events WHERE session_id IS NOT NULL GROUP BY 1 "
                "ORDER BY count(*) DESC, 1 LIMIT 1"
            )[0][0]
            rows = {
                "scale": scale,
                "events": world.get("events"),
                "orders": world.get("orders"),
                "post_live": _one(wh, "post_live", str(busiest)),
                "weekly": _one(wh, "weekly", None),
            }
            wh.close()
        print(rows, flush=True)
        out["worlds"].append(rows)
    return out
