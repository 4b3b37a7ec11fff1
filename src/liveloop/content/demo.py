"""The content studio's part of the demo: tonight's script for the demo world's latest session, and a
push line per persona for its first product — all through the compliance gate."""

from __future__ import annotations

from typing import Any

from liveloop.content.copywriting import product_copy
from liveloop.content.scripts import pick_sessions, render, session_script
from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import InsufficientData
from liveloop.warehouse import Warehouse


def demo_step(wh: Warehouse, settings: Settings | None = None) -> dict[str, Any]:
    """Write the script (both languages) to LIVELOOP_HOME/content/ and summarise it."""
    settings = settings or get_settings()
    sessions = pick_sessions(wh, limit=1)
    if not sessions:
        raise InsufficientData("the demo world has no live session with a lineup")
    script = session_script(wh, sessions[0]["session_id"], settings=settings)
    out = settings.home / "content"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for lang in ("zh", "en"):
        path = out / f"script-{script['session_id']}.{lang}.md"
        path.write_text(render(script, lang) + "\n", encoding="utf-8")
        paths.append(str(path))
    lines = [line for p in script["products"] for line in p["lines"]] + script["opening"] + script["closing"]
    first = script["products"][0]
    push = {
        persona: product_copy(wh, first["product_id"], "push", persona=persona, variants=1, settings=settings)
        for persona in ("bargain_hunter", "premium")
    }
    return {
        "session": f"{script['session_id']} {script['title']}",
        "expected_audience": script["audience"]["size"],
        "top_persona": script["audience"]["personas"][0]["persona"]
        if script["audience"]["personas"]
        else "—",
        "products": len(script["products"]),
        "moved": sum(1 for p in script["products"] if p["slot"] != p["default_slot"]),
        "first": f"{first['name']} ({first['reason']})",
        "opening": script["opening"][0]["zh"] if script["opening"] else "—",
        "lines": len(lines),
        "need_review": sum(1 for line in lines if line["verdict"] == "flag"),
        "blocked_by_gate": len(script["blocked"]),
        "written_in_ms": script["generated_ms"],
        "push_price_sensitive": (push["bargain_hunter"]["variants"] or [{"text": "—"}])[0]["text"],
        "push_quality": (push["premium"]["variants"] or [{"text": "—"}])[0]["text"],
        "script_files": ", ".join(paths),
    }
