"""The reports' part of the demo: targets derived from the demo world (so reports and the Overview have
something to track), the post-live report of the replayed session and the weekly report, written to
LIVELOOP_HOME/reports/ as HTML and PDF in both languages."""

from __future__ import annotations

from typing import Any

from liveloop.analytics import targets
from liveloop.analytics.kpis import compute
from liveloop.analytics.reports import archive, marketing, render
from liveloop.core.config import Settings
from liveloop.core.errors import Unavailable
from liveloop.warehouse import Warehouse

ACTOR = "demo"
GROWTH = 1.10  # the demo's targets: 10% better than the world did


def demo_targets(wh: Warehouse, tz: str) -> list[dict[str, Any]]:
    """Weekly platform targets 10% above the last full week, and a per-session GMV target 10% above the
    mean session, unless targets exist already."""
    if targets.list_targets(wh):
        return []
    lo, hi, _ = marketing.period_of(wh, "weekly", tz=tz)
    week = compute(wh, ["gmv", "view_to_buy", "refund_rate"], start=lo, end=hi, tz=tz)["rows"][0]
    sessions = [r["gmv"] for r in compute(wh, ["gmv"], "session", tz=tz)["rows"] if r["key"] and r["gmv"]]
    wanted = [
        targets.Target("gmv", "week", round((week["gmv"] or 0) * GROWTH, -2) or 1000.0),
        targets.Target("view_to_buy", "week", round((week["view_to_buy"] or 0.05) * GROWTH, 3)),
        targets.Target("refund_rate", "week", round((week["refund_rate"] or 0.05) / GROWTH, 3)),
    ]
    if sessions:
        wanted.append(
            targets.Target("gmv", "day", round(sum(sessions) / len(sessions) * GROWTH, -1), "session")
        )
    return [targets.set_target(wh, t, actor=ACTOR) for t in wanted]


def demo_step(wh: Warehouse, settings: Settings, session_id: str | None) -> dict[str, Any]:
    """Targets, then the two reports on disk (PDF when Chromium is here; HTML always)."""
    tz, symbol = settings.timezone, settings.currency_symbol
    made_targets = demo_targets(wh, tz)
    out = settings.home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    summary: dict[str, Any] = {"targets": len(made_targets)}
    jobs = [("weekly", None)] + ([("post_live", session_id)] if session_id else [])
    for kind, sid in jobs:
        try:
            report = archive.generate(wh, kind, session_id=sid, pdf=True, actor=ACTOR, tz=tz, symbol=symbol)
        except Unavailable as exc:
            summary["pdf"] = f"not written: {exc.detail}"
            report = archive.generate(wh, kind, session_id=sid, actor=ACTOR, tz=tz, symbol=symbol)
        summary[kind] = report["report_id"]
        for lang in render.LANGS:
            for fmt in ("html", *(["pdf"] if lang in report["pdf"] else [])):
                path = out / archive.filename(report, fmt, lang)
                path.write_bytes(archive.file_of(wh, report["report_id"], fmt, lang, tz=tz, symbol=symbol))
                files.append(str(path))
    summary["files"] = ", ".join(files)
    return summary
