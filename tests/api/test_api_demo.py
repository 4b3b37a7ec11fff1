"""``liveloop demo``'s orchestration on a small simulated world: every step runs, the admin key works."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from liveloop.demo import STEPS, run_demo
from liveloop.live import sessions
from liveloop.privacy.keys import KeyVerifier
from liveloop.warehouse import Warehouse


def test_demo_builds_the_world_and_an_admin_key(settings, tmp_path, monkeypatch, small_comment_model):
    monkeypatch.setenv("LIVELOOP_NLP_MODEL", str(small_comment_model))  # the full model takes minutes
    demo_settings = replace(settings, home=tmp_path / "demo-home", secret_key=None)
    seen: list[str] = []
    ctx = run_demo(demo_settings, seed=5, on_step=lambda name, _: seen.append(name), users=80, days=2)
    assert seen == [name for name, _ in STEPS]
    world = ctx.summary["simulate"]
    assert world["users"] == 80 and world["events"] > 0 and world["products"] > 0
    assert (demo_settings.home / "secret.key").exists()  # the PII key was created with the home
    with Warehouse.open(demo_settings) as wh:
        assert wh.sql("SELECT count(*) FROM users")[0][0] == 80
        principal = KeyVerifier().verify(wh, ctx.admin_key)
        assert wh.sql("SELECT count(*) FROM profiles")[0][0] == 80  # the demo built every profile
        # the replayed live session is kept: the Live Monitor opens it from the warehouse
        replayed = ctx.summary["live"]["session_id"]
        stored = sessions.finished(wh, replayed)
        assert stored["summary"]["comments"] == ctx.summary["live"]["comments"] > 0
        assert len(stored["minutes"]) == stored["summary"]["minutes"] > 0
        assert sessions.list_sessions(wh, status="ended")["items"][0]["session_id"] == replayed
    assert principal.role.value == "admin"
    assert ctx.summary["profiles"]["users"] == 80
    assert "28" in ctx.summary["budget"]["not planned"]  # two days: the media model says why it waits
    assert ctx.summary["recommend"]["version"]  # a recommender version the service will serve
    # the recommendation-strategy experiment: every active user served through the engine, results kept
    exp = ctx.summary["experiment"]
    assert sum(exp["users"].values()) > 40 and exp["page"].endswith(exp["experiment"])
    with Warehouse.open(demo_settings) as wh:
        from liveloop.analytics import experiments

        res = experiments.results(wh, exp["experiment"], act=False)
        assert res["users"] == exp["users"] and res["experiment"]["status"] == "running"
        # Table 2 on the demo's traffic: six lists of ten per user, clicks drawn from the simulator's truth
        rows = {r["arm"]: r for r in res["table2"]["rows"]}
        assert all(r["exposure"] == 60 * r["users"] for r in rows.values())
        assert all(r["ctr"] is not None and 0 <= r["ctr"] <= 1 for r in rows.values())
    # tonight's script: every lineup product, nothing blocked left in, both languages on disk
    content = ctx.summary["content"]
    assert content["products"] > 0 and content["lines"] >= content["products"]
    zh, en = (Path(p) for p in content["script_files"].split(", "))
    assert zh.read_text(encoding="utf-8").count("## ") == en.read_text(encoding="utf-8").count("## ")
    assert content["push_price_sensitive"].startswith("好价提醒")
    # the post-live report of the replayed session and the weekly report, HTML and PDF in both languages
    reports = ctx.summary["reports"]
    files = [Path(p) for p in reports["files"].split(", ")]
    assert sorted(f.suffix for f in files) == [".html"] * 4 + [".pdf"] * 4
    assert all(f.read_bytes()[:4] == b"%PDF" for f in files if f.suffix == ".pdf")
    post_live = next(f for f in files if "post-live" in f.name and f.name.endswith("-zh.html"))
    assert "直播复盘报告" in post_live.read_text(encoding="utf-8") and replayed in post_live.name
    assert reports["targets"] >= 3
