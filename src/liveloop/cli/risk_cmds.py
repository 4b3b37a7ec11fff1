"""``liveloop risk …``: scan for fake engagement, abnormal orders and KPI drops; the review queue (flags,
one flag with its evidence and members) and a reviewer's verdict. Each command parses, calls one function
of ``liveloop.analytics.risk`` and prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, err_console, human, open_warehouse, parse_time
from liveloop.core.config import get_settings

risk_app = typer.Typer(
    help="Risk: fake engagement (刷量), linked accounts and refund abuse, KPI drops; the review queue.",
    no_args_is_help=True,
)
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


def _rule(flag: dict[str, Any]) -> str:
    return str((flag.get("evidence") or {}).get("rule") or flag.get("kind_description") or "")


@risk_app.command("kinds")
def risk_kinds(as_json: bool = JsonOpt) -> None:
    """The kinds of risk the detectors find (per session: the live-room ones)."""
    from liveloop.analytics import risk

    found = [
        {"kind": k, "description": d, "per_session": k in risk.SESSION_KINDS} for k, d in risk.KINDS.items()
    ]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("kind", "per session", "what it finds", title="kinds of risk")
        for r in rows:
            table.add_row(r["kind"], human(r["per_session"]), r["description"])
        console.print(table)

    emit(found, as_json, render)


@risk_app.command("scan")
def risk_scan(
    kind: list[str] | None = typer.Option(None, "--kind", help="A detector to run (repeat; default all)."),
    session: str | None = typer.Option(None, "--session", help="Only this live session (live-room kinds)."),
    start: str | None = typer.Option(None, "--start", help="Acts from (ISO time; no offset: display zone)."),
    end: str | None = typer.Option(None, "--end", help="Acts before (ISO time)."),
    as_json: bool = JsonOpt,
) -> None:
    """Run the detectors; each new finding becomes an open flag (one already flagged is not flagged again)."""
    from liveloop.analytics import risk

    lo, hi = parse_time(start, "start"), parse_time(end, "end")
    with open_warehouse() as wh:
        if as_json or not err_console.is_terminal:
            found = risk.scan(wh, kind or None, start=lo, end=hi, session_id=session)
        else:
            with err_console.status("scanning for risk…", spinner="dots"):
                found = risk.scan(wh, kind or None, start=lo, end=hi, session_id=session)

    def render(r: dict[str, Any]) -> None:
        table = Table("kind", "found", "new", title=f"risk scan in {r['seconds']:.1f} s")
        for k, v in r["kinds"].items():
            table.add_row(k, str(v["found"]), str(v["new"]))
        console.print(table)
        tail = "; review them with `liveloop risk flags --status open`" if r["new"] else ""
        console.print(f"{r['found']} found, {r['new']} new flags{tail}", markup=False)

    emit(found, as_json, render)


@risk_app.command("flags")
def risk_flags(
    kind: str | None = typer.Option(None, "--kind", help="Only this kind (see `liveloop risk kinds`)."),
    status: str | None = typer.Option(None, "--status", help="open, confirmed or dismissed."),
    session: str | None = typer.Option(None, "--session", help="Only the flags of this live session."),
    subject: str | None = typer.Option(None, "--subject", help="Only flags about this session, user or KPI."),
    limit: int = typer.Option(50, "--limit", help="At most this many (1 to 500)."),
    offset: int = typer.Option(0, "--offset", help="Skip this many (paging)."),
    as_json: bool = JsonOpt,
) -> None:
    """The review queue: flags of the newest scan first, strongest first."""
    from liveloop.analytics import risk

    with open_warehouse(read_only=True) as wh:
        found = risk.list_flags(
            wh, kind=kind, status=status, session_id=session, subject=subject, limit=limit, offset=offset
        )

    def render(r: dict[str, Any]) -> None:
        shown = f"{r['offset'] + 1}–{r['offset'] + len(r['flags'])} of {r['total']}" if r["flags"] else "none"
        table = Table(title=f"flags: {shown}")
        for name in ("id", "kind", "subject"):
            table.add_column(name, no_wrap=True)
        for name in ("score", "status", "accounts"):
            table.add_column(name, justify="right" if name != "status" else "left")
        table.add_column("evidence", ratio=1)
        for f in r["flags"]:
            table.add_row(
                f["flag_id"], f["kind"], f["subject"], f"{f['score']:g}", f["status"], str(f["accounts"]),
                _rule(f),
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


def _render_flag(f: dict[str, Any]) -> None:
    zone = ZoneInfo(get_settings().timezone)

    def at(ts: str | None) -> str:
        return datetime.fromisoformat(ts).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"

    console.print(
        f"{f['flag_id']} {f['kind']} about {f['subject_type']} {f['subject']}: score {f['score']:g}, "
        f"{f['status']} (flagged {at(f['created_at'])})",
        markup=False,
    )
    if f.get("reviewed_by"):
        note = f"; note: {f['review_note']}" if f.get("review_note") else ""
        console.print(f"reviewed by {f['reviewed_by']} at {at(f['reviewed_at'])}{note}", markup=False)
    console.print(f"rule: {_rule(f)}", markup=False, soft_wrap=True)
    evidence = f.get("evidence") or {}
    for key, value in evidence.items():
        if key != "rule" and not isinstance(value, list):
            console.print(f"  {key}: {human(value)}", markup=False)
    minutes = evidence.get("minutes") or []
    if minutes:  # a like or gift spike, minute by minute
        keys = [k for k in minutes[0] if k != "minute"]
        table = Table("minute", *keys, title="minutes")
        for m in minutes:
            table.add_row(at(m["minute"]), *(human(m.get(k)) for k in keys))
        console.print(table)
    for item_type, rows in (f.get("members") or {}).items():
        if not rows:
            continue
        if item_type == "account":
            timed = any(m["ts"] for m in rows)  # a ring's accounts have no moment of their own
            table = Table(
                "user", *(["first seen"] if timed else []), "how it looked", title=f"accounts ({len(rows)})"
            )
            for m in rows:
                table.add_row(m["user_id"], *([at(m["ts"])] if timed else []), m["detail"] or "")
        else:
            table = Table("user", item_type, "time", "detail", title=f"{item_type}s (examples)")
            for m in rows:
                table.add_row(m["user_id"], m["item_id"], at(m["ts"]), m["detail"] or "")
        console.print(table)


@risk_app.command("show")
def risk_show(
    flag_id: str = typer.Argument(..., help="The flag's id (from `liveloop risk flags`)."),
    examples: int = typer.Option(20, "--examples", min=0, max=500, help="Items of each kind to list."),
    as_json: bool = JsonOpt,
) -> None:
    """One flag with its evidence, the accounts it names and examples of their comments, orders, events."""
    from liveloop.analytics import risk

    with open_warehouse(read_only=True) as wh:
        emit(risk.get_flag(wh, flag_id, examples=examples), as_json, _render_flag)


@risk_app.command("review")
def risk_review(
    flag_id: str = typer.Argument(..., help="The flag's id."),
    status: str = typer.Argument(..., help="confirmed or dismissed (open reopens it)."),
    note: str | None = typer.Option(None, "--note", help="Why (kept with the flag and in the audit log)."),
    by: str = typer.Option(ACTOR, "--by", help="The reviewer's name."),
    as_json: bool = JsonOpt,
) -> None:
    """Confirm or dismiss a flag; recorded with who and when, and audited."""
    from liveloop.analytics import risk

    with open_warehouse() as wh:
        found = risk.review_flag(wh, flag_id, status, reviewer=by, note=note)

    def render(f: dict[str, Any]) -> None:
        console.print(f"{f['flag_id']} ({f['kind']}, {f['subject']}) is now {f['status']}", markup=False)

    emit(found, as_json, render)
