"""Reports: the post-live and weekly reports checked against hand-written pandas on a simulated world, their
refusals, HTML in both languages, the PDF printed by Chromium, the archive, and schedules delivered to a
real local SMTP server; the CLI face."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from liveloop.analytics import kpis
from liveloop.analytics.reports import archive, marketing, render, schedules
from liveloop.analytics.reports.postlive import post_live
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.report_mail import reports_pass
from liveloop.campaigns.sinks import LocalSmtp
from liveloop.core.crypto import cipher_of, generate_key
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

PAID = ("cancelled", "failed", "refunded")


def _frame(wh: Warehouse, query: str, params: list | None = None) -> pd.DataFrame:
    return wh.arrow(query, params or []).to_pandas()


def _busiest(wh: Warehouse) -> str:
    return str(
        wh.sql(
            "SELECT session_id FROM orders WHERE session_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1"
        )[0][0]
    )


def test_post_live_matches_pandas(world: Warehouse) -> None:
    sid = _busiest(world)
    d = post_live(world, sid)
    orders = _frame(world, "SELECT * FROM orders WHERE session_id = ?", [sid])
    paid = orders[~orders["status"].isin(PAID)]
    got = {k["metric"]: k["value"] for k in d["kpis"]}
    assert got["gmv"] == pytest.approx(float(paid["amount"].astype(float).sum()))
    assert got["orders"] == paid["order_id"].nunique()
    events = _frame(world, "SELECT * FROM events WHERE session_id = ?", [sid])
    assert got["viewers"] == events.loc[events["type"] == "enter_room", "user_id"].nunique()
    # minute by minute: GMV adds up to the session's, viewers are entries less leaves so far
    assert sum(m["gmv"] for m in d["minutes"]) == pytest.approx(got["gmv"])
    moves = events[events["type"].isin(["enter_room", "leave_room"])].copy()
    moves["net"] = moves["type"].map({"enter_room": 1, "leave_room": -1})
    per_minute = moves.groupby(moves["ts"].dt.floor("min"))["net"].sum().cumsum().clip(lower=0)
    assert max(m["viewers"] for m in d["minutes"]) == int(per_minute.max())
    # each product's explanation results add up to the session's order lines
    lines = _frame(
        world,
        "SELECT i.* FROM order_items i JOIN orders o USING (order_id) WHERE o.session_id = ? "
        "AND o.status NOT IN ('cancelled', 'failed', 'refunded')",
        [sid],
    )
    assert sum(p["gmv"] for p in d["products"]) == pytest.approx(float(lines["amount"].astype(float).sum()))
    assert sum(p["units"] for p in d["products"]) == int(lines["quantity"].sum())
    # the host's previous sessions: the mean of their GMV, by hand
    host, start = world.sql("SELECT host_id, start_ts FROM live_sessions WHERE session_id = ?", [sid])[0]
    before = _frame(
        world,
        "SELECT session_id FROM live_sessions WHERE host_id = ? AND start_ts < ? "
        "ORDER BY start_ts DESC LIMIT 5",
        [host, start],
    )["session_id"].tolist()
    assert d["previous_sessions"] == before
    assert before, "the busiest session's host has earlier sessions in this world"
    all_orders = _frame(world, "SELECT * FROM orders")
    placed = all_orders[~all_orders["status"].isin(["cancelled", "failed"])]
    ok = placed[placed["status"] != "refunded"]
    seen = set(placed["session_id"]) | {r[0] for r in world.sql("SELECT DISTINCT session_id FROM events")}
    gmvs = [float(ok.loc[ok["session_id"] == s, "amount"].astype(float).sum()) for s in before if s in seen]
    prev = next(k["previous"] for k in d["kpis"] if k["metric"] == "gmv")
    assert prev == pytest.approx(sum(gmvs) / len(gmvs))


def test_per_session_targets_and_html_in_both_languages(world: Warehouse) -> None:
    sid = _busiest(world)
    world.sql(
        "INSERT OR REPLACE INTO kpi_targets (metric, grain, key, period, target) "
        "VALUES ('gmv', 'session', 'all', 'day', 100), ('gmv', 'session', ?, 'day', 12345)",
        [sid],
    )
    d = archive.jsonable(post_live(world, sid) | {"generated_at": datetime.now().astimezone()})
    assert next(k["target"] for k in d["kpis"] if k["metric"] == "gmv") == 12345  # the session's own wins
    zh, en = render.html(d, "zh"), render.html(d, "en")
    gmv = next(k["value"] for k in d["kpis"] if k["metric"] == "gmv")
    assert "直播复盘报告" in zh and "成交额" in zh and f"¥{gmv:,.2f}" in zh and "¥12,345.00" in zh
    assert "Post-live report" in en and "Post-live report" not in zh and "直播复盘报告" not in en
    assert "<script" not in zh and "<svg" in zh  # self-contained: inline charts, nothing to run


def test_weekly_report_period_and_numbers(world: Warehouse) -> None:
    newest = world.sql("SELECT max(ts) FROM orders")[0][0]
    lo, hi, partial = marketing.period_of(world, "weekly")
    assert lo.weekday() == 0 and lo.hour == 0 and (hi - lo <= timedelta(days=7))
    assert partial == (hi > newest - timedelta(days=7))  # five days of data: the week so far
    monday = (newest.astimezone(lo.tzinfo) - timedelta(days=newest.astimezone(lo.tzinfo).weekday())).date()
    d = marketing.marketing(world, "weekly", start=monday)
    assert d["period_start"].date() == monday and not d["partial"]
    orders = _frame(world, "SELECT * FROM orders")
    start, end = d["period_start"], d["period_end"]
    inside = orders[(orders["ts"] >= start) & (orders["ts"] < end) & ~orders["status"].isin(PAID)]
    got = {k["metric"]: k for k in d["kpis"]}
    assert got["gmv"]["value"] == pytest.approx(float(inside["amount"].astype(float).sum()))
    earlier = orders[
        (orders["ts"] >= start - (end - start)) & (orders["ts"] < start) & ~orders["status"].isin(PAID)
    ]
    assert got["orders"]["previous"] == earlier["order_id"].nunique()
    assert sum(r["gmv"] or 0 for r in d["days"]) == pytest.approx(got["gmv"]["value"])
    reach = [s["users"] for s in d["funnel"]]
    assert reach == sorted(reach, reverse=True) and reach[0] > 0
    assert d["channels"]["orders"] >= got["orders"]["value"]  # every paid order attributed, direct included
    assert d["sessions"] == sorted(d["sessions"], key=lambda s: -(s["gmv"] or 0))
    with pytest.raises(ValidationFailed) as err:
        marketing.marketing(world, "weekly", start=monday + timedelta(days=1))
    assert err.value.field == "start"
    with pytest.raises(ValidationFailed):
        marketing.period_of(world, "fortnightly")


def test_reports_refuse_what_has_no_data(wh: Warehouse) -> None:
    with pytest.raises(InsufficientData):
        archive.build(wh, "weekly")
    wh.sql("INSERT INTO live_sessions (session_id, host_id, start_ts) VALUES ('quiet', 'h1', now())")
    with pytest.raises(InsufficientData) as err:
        archive.build(wh, "post_live", session_id="quiet")
    assert "no events, comments or orders" in err.value.detail
    with pytest.raises(NotFound):
        archive.build(wh, "post_live", session_id="nope")
    with pytest.raises(ValidationFailed) as bad:
        archive.build(wh, "post_live")
    assert bad.value.field == "session_id"
    assert wh.sql("SELECT count(*) FROM reports")[0][0] == 0  # nothing half-written


def test_archive_lists_and_renders(world: Warehouse) -> None:
    made = archive.generate(world, "post_live", session_id=_busiest(world), actor="test")
    assert made["pdf"] == [] and made["kind"] == "post_live"
    listed = archive.list_reports(world, kind="post_live")
    assert listed["items"][0]["report_id"] == made["report_id"]
    html = archive.file_of(world, made["report_id"], "html", "en").decode()
    assert html.startswith("<!doctype html>") and "Post-live report" in html
    assert archive.filename(made, "pdf", "zh").endswith("-zh.pdf")
    for call, field in (
        (lambda: archive.file_of(world, made["report_id"], "docx"), "format"),
        (lambda: archive.file_of(world, made["report_id"], "html", "fr"), "lang"),
        (lambda: archive.list_reports(world, kind="daily"), "kind"),
    ):
        with pytest.raises(ValidationFailed) as err:
            call()
        assert err.value.field == field
    with pytest.raises(NotFound):
        archive.file_of(world, "rep_missing", "html")


@pytest.mark.browser
def test_pdf_is_printed_by_chromium_and_kept(world: Warehouse) -> None:
    made = archive.generate(world, "weekly", pdf=True)
    assert made["pdf"] == ["en", "zh"]
    body = archive.file_of(world, made["report_id"], "pdf", "zh")
    assert body.startswith(b"%PDF") and len(body) > 20_000
    assert archive.file_of(world, made["report_id"], "pdf", "zh") == body  # read back, not printed again


def test_schedules_check_input_and_keep_recipients_encrypted(wh: Warehouse) -> None:
    cipher = cipher_of(generate_key())
    for kwargs, field in (
        ({"kind": "weekly", "recipients": ["not-an-address"]}, "recipients"),
        ({"kind": "weekly", "recipients": []}, "recipients"),
        ({"kind": "weekly", "recipients": ["a@b.co"], "every": "soon"}, "every"),
        ({"kind": "daily", "recipients": ["a@b.co"]}, "kind"),
        ({"kind": "weekly", "recipients": ["a@b.co"], "lang": "fr"}, "lang"),
    ):
        with pytest.raises(ValidationFailed) as err:
            schedules.add(wh, cipher, kwargs.pop("kind"), kwargs.pop("recipients"), **kwargs)
        assert err.value.field == field
    now = datetime(2026, 11, 18, 15, 0).astimezone()  # a Wednesday
    made = schedules.add(wh, cipher, "weekly", ["ops@shop.example"], now=now)
    nxt = made["next_run_at"].astimezone(ZoneInfo("Asia/Shanghai"))  # Mondays 09:00 in the display zone
    assert nxt.weekday() == 0 and nxt.hour == 9 and now < nxt < now + timedelta(days=7)
    assert made["recipients"] == ["***"]
    assert schedules.public(wh, cipher)[0]["recipients"] == ["o***@shop.example"]
    raw = wh.sql("SELECT recipients FROM report_schedules")[0][0]
    assert b"ops@shop.example" not in bytes(raw)
    assert schedules.remove(wh, made["schedule_id"]) and not schedules.remove(wh, made["schedule_id"])


@pytest.mark.browser
def test_due_schedules_are_mailed_with_their_files(world: Warehouse) -> None:
    cipher = cipher_of(generate_key())
    with LocalSmtp() as smtp:
        smtp.box.refuse.add("gone@shop.example")
        set_provider(
            world, cipher, Provider("email", "smtp", {"url": smtp.url, "from": "reports@liveloop.test"})
        )
        ok = schedules.add(world, cipher, "weekly", ["ops@shop.example"], every="1m", lang="en")
        bad = schedules.add(world, cipher, "weekly", ["gone@shop.example"], every="1m")
        done = reports_pass(world, cipher, pdf=True)
        status = {s["schedule_id"]: s["status"] for s in done["schedules"]}
        assert status[ok["schedule_id"]] == "sent 1 report(s)"
        assert status[bad["schedule_id"]].startswith("failed: gone@shop.example")
        mail = next(m for m in smtp.box.mails if m["to"] == ["ops@shop.example"])
        assert mail["subject"].startswith("Weekly marketing report")
        kinds = sorted(a["type"] for a in mail["attachments"])
        assert kinds == ["application/pdf", "text/html"]
        assert next(a for a in mail["attachments"] if a["type"] == "application/pdf")["body"].startswith(
            b"%PDF"
        )
        again = reports_pass(world, cipher, pdf=False)  # nothing due a moment later
        assert again["schedules"] == []
    later = reports_pass(world, cipher, now=datetime.now().astimezone() + timedelta(seconds=61), pdf=False)
    assert {s["schedule_id"] for s in later["schedules"]} == {ok["schedule_id"], bad["schedule_id"]}
    assert all(s["status"].startswith("failed") for s in later["schedules"])  # the SMTP server is gone


def test_cli(cli, wh: Warehouse, tmp_path: Path) -> None:
    simulate_into_warehouse(wh, scale="small", seed=5, users=150, days=3)
    sid = _busiest(wh)
    wh.close()  # the CLI opens the same file
    code, out, err = cli("reports", "post-live", sid, "--out", str(tmp_path), "--json")
    assert code == 0, err
    made = json.loads(out)
    assert len(made["files"]) == 2 and all(
        Path(f).read_text().startswith("<!doctype html>") for f in made["files"]
    )
    code, out, err = cli("reports", "weekly", "--json")
    assert code == 0, err
    code, out, _ = cli("reports", "list", "--json")
    assert json.loads(out)["total"] == 2
    code, out, err = cli(
        "reports", "download", made["report_id"], "--format", "html", "--lang", "en", "--out", str(tmp_path)
    )
    assert code == 0 and "Post-live report" in (tmp_path / archive.filename(made, "html", "en")).read_text()
    for args, word in (
        (("reports", "weekly", "--start", "2026-13-01"), "start"),
        (("reports", "post-live", "nope"), "nope"),
        (("reports", "schedule", "add", "weekly", "--to", "nobody"), "e-mail"),
        (("reports", "download", made["report_id"], "--format", "docx"), "format"),
    ):
        code, _, err = cli(*args)
        assert code != 0 and err.strip().count("\n") == 0 and word in err, (args, err)
    code, out, err = cli("reports", "schedule", "add", "monthly", "--to", "ops@shop.example", "--json")
    assert code == 0, err
    code, out, _ = cli("reports", "schedule", "list", "--json")
    assert json.loads(out)[0]["recipients"] == ["o***@shop.example"]


def test_kpis_of_a_session_agree_with_the_registry(world: Warehouse) -> None:
    """The report's session KPIs are the registry's, filtered to the session (one definition)."""
    sid = _busiest(world)
    d = post_live(world, sid)
    direct = kpis.compute(world, [k["metric"] for k in d["kpis"]], where={"session": sid})["rows"][0]
    assert {k["metric"]: k["value"] for k in d["kpis"]} == {m: direct[m] for m in direct if m != "key"}


def test_a_room_ended_without_data_does_not_stop_the_pass(wh: Warehouse) -> None:
    """A copilot room opened and ended with nothing in it has no report to write; the pass goes on
    (schedules still run) and does not try it again and again."""
    cipher = cipher_of(generate_key())
    wh.sql("INSERT INTO live_sessions (session_id, start_ts, source) VALUES ('empty-room', now(), 'live')")
    wh.sql("INSERT INTO live_summaries (session_id, summary) VALUES ('empty-room', '{\"minutes\": 0}')")
    made = schedules.add(wh, cipher, "weekly", ["ops@shop.example"], every="1m")
    ended = schedules.add(wh, cipher, "post_live", ["host@shop.example"], every="1m")
    wh.sql("UPDATE live_sessions SET end_ts = now() + INTERVAL 1 SECOND WHERE session_id = 'empty-room'")
    sent: list[str] = []
    later = datetime.now().astimezone() + timedelta(seconds=5)
    done = schedules.run_due(
        wh, cipher, lambda to, subject, text, files: sent.append(subject), now=later, pdf=False
    )
    assert done["post_live_written"] == [] and sent == []
    status = {s["schedule_id"]: s["status"] for s in done["schedules"]}
    assert status[made["schedule_id"]].startswith("failed: the warehouse has no events or orders")
    assert status[ended["schedule_id"]] == "sent 0 report(s)"  # the empty room is passed over


def test_a_post_live_report_that_cannot_be_written_is_said_once_and_does_not_hold_the_queue(
    wh: Warehouse, monkeypatch, caplog
) -> None:
    wh.sql(  # rooms the copilot ended; their sessions left no trace to report on
        "INSERT INTO live_summaries (session_id, summary) SELECT 'ghost-' || i, '{\"minutes\": 3}' "
        "FROM range(?) t(i)",
        [schedules.PENDING_PER_PASS + 2],
    )
    tried: list[str] = []
    generate = archive.generate

    def counted(*args, **kwargs):
        tried.append(kwargs["session_id"])
        return generate(*args, **kwargs)

    monkeypatch.setattr(archive, "generate", counted)
    assert schedules.write_pending_post_live(wh, pdf=False) == []
    assert len(tried) == schedules.PENDING_PER_PASS
    assert "no post-live report for session ghost-" in caplog.text
    assert schedules.write_pending_post_live(wh, pdf=False) == []
    assert (
        len(tried) == schedules.PENDING_PER_PASS + 2
    )  # the next pass reaches the two left, not the ten again
    failed = wh.sql("SELECT subject, reason FROM audit_log WHERE action = ?", [schedules.POST_LIVE_FAILED])
    assert len(failed) == schedules.PENDING_PER_PASS + 2 and all(reason for _, reason in failed)
    assert (
        schedules.write_pending_post_live(wh, pdf=False) == []
        and len(tried) == schedules.PENDING_PER_PASS + 2
    )


def test_a_post_live_report_that_fails_for_a_passing_reason_is_tried_again(
    wh: Warehouse, monkeypatch
) -> None:
    from liveloop.core.errors import Conflict

    wh.sql("INSERT INTO live_summaries (session_id, summary) VALUES ('busy', '{\"minutes\": 3}')")
    tried: list[str] = []

    def busy(*args, **kwargs):
        tried.append(kwargs["session_id"])
        raise Conflict("the warehouse is busy")

    monkeypatch.setattr(archive, "generate", busy)
    assert schedules.write_pending_post_live(wh, pdf=False) == []
    assert schedules.write_pending_post_live(wh, pdf=False) == []
    assert tried == ["busy", "busy"]  # not given up: no failure recorded
    assert wh.sql("SELECT count(*) FROM audit_log WHERE action = ?", [schedules.POST_LIVE_FAILED])[0][0] == 0
