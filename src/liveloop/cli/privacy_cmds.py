"""A person's rights over their data, under ``liveloop users``: consents, explained decisions, export and
erasure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop import explainers
from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.cli.profiles_cmds import users_app
from liveloop.core.errors import ValidationFailed

retention_app = typer.Typer(help="How long each table keeps its rows, and applying it.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """``retention``; the user commands are on ``users_app``, which ``profiles_cmds`` attaches."""
    app.add_typer(retention_app, name="retention")


@users_app.command("decisions")
def users_decisions(
    user_id: str = typer.Argument(..., help="User id."),
    lang: str = typer.Option("zh", "--lang", help="zh or en: the language of the explanations."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, newest first."),
    as_json: bool = JsonOpt,
) -> None:
    """Automated decisions about a user, each with its explanation (PIPL art. 24)."""
    from liveloop.core.clock import display_time
    from liveloop.core.config import get_settings
    from liveloop.privacy.audit import decisions

    explainers.load()

    if lang not in ("zh", "en"):
        raise ValidationFailed("--lang must be zh or en", field="lang")
    with open_warehouse(read_only=True) as wh:
        found = decisions(wh, user_id, lang=lang, limit=limit)
    zone = get_settings().timezone

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("when", "what", "explanation", title=f"{len(rows)} decisions about {user_id}")
        for d in rows:
            table.add_row(display_time(d["ts"], zone), d["action"], d["explanation"])
        console.print(table)

    emit(found, as_json, render)


def _render_consents(result: dict[str, Any]) -> None:
    from liveloop.core.clock import display_time
    from liveloop.core.config import get_settings

    zone = get_settings().timezone
    table = Table("purpose", "channel", "allowed", "why", "since", title=f"consents of {result['user_id']}")
    for c in result["current"]:
        why = c["status"] or c["basis"]
        table.add_row(
            c["purpose"], c["channel"], "yes" if c["allowed"] else "no", why, display_time(c["since"], zone)
        )
    console.print(table)
    console.print(
        f"{len(result['history'])} statements on record; opt-in purposes: {', '.join(result['opt_in'])}"
    )


@users_app.command("consents")
def users_consents(user_id: str = typer.Argument(..., help="User id."), as_json: bool = JsonOpt) -> None:
    """What a user allows, per purpose and channel (effective now, and why), with the history."""
    from liveloop.privacy.consent import of_user

    with open_warehouse(read_only=True) as wh:
        emit(of_user(wh, user_id), as_json, _render_consents)


@users_app.command("consent")
def users_consent(
    user_id: str = typer.Argument(..., help="User id."),
    purpose: str = typer.Argument(..., help="personalisation, profiling, marketing or sharing."),
    status: str = typer.Argument(..., help="granted, denied or revoked."),
    channel: str = typer.Option(
        "all", "--channel", help="A marketing channel (email, sms, app_push…) or all."
    ),
    source: str = typer.Option("cli", "--source", help="Where the user said it (a form, the app, a call)."),
    proof: str | None = typer.Option(None, "--proof", help="What shows it: a form id, a recording, a text."),
    at: datetime | None = typer.Option(None, "--at", help="When the user said it (default: now, UTC)."),
    as_json: bool = JsonOpt,
) -> None:
    """Record a user's consent statement; the history is kept and the latest statement rules."""
    from liveloop.privacy.consent import ConsentChange, of_user, record

    change = ConsentChange(user_id, purpose, status, channel, source, proof, at)
    with open_warehouse() as wh:
        counts = record(wh, [change], actor="cli")
        result = counts | of_user(wh, user_id)
    emit(result, as_json, _render_consents)


@users_app.command("export")
def users_export(
    user_id: str = typer.Argument(..., help="User id."),
    to: Path | None = typer.Option(
        None, "--to", help="A folder for export.json and csv/ (default: JSON on stdout)."
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en: the language of the decisions' explanations."),
) -> None:
    """Everything liveloop holds about a user (PII decrypted for them), as JSON and CSV."""
    from liveloop.cli.common import to_json
    from liveloop.core.config import get_settings
    from liveloop.core.crypto import load_cipher
    from liveloop.privacy.rights import export_csv, export_user

    explainers.load()

    if lang not in ("zh", "en"):
        raise ValidationFailed("--lang must be zh or en", field="lang")
    with open_warehouse() as wh:
        found = export_user(wh, user_id, cipher=load_cipher(get_settings()), lang=lang, actor="cli")
    if to is None:
        emit(found, True)
        return
    if to.exists() and not to.is_dir():
        raise ValidationFailed(f"{to} is a file: --to takes a folder", field="to")
    (to / "csv").mkdir(parents=True, exist_ok=True)
    (to / "export.json").write_text(to_json(found) + "\n", encoding="utf-8")
    files = export_csv(found)
    for name, text in files.items():
        (to / "csv" / name).write_text(text, encoding="utf-8")
    rows = sum(len(r) for r in found["tables"].values())
    console.print(
        f"exported {rows} rows of {len(found['tables'])} tables and {len(found['decisions'])} decisions "
        f"to {to}",
        markup=False,
    )


def _verdict(result: dict[str, Any]) -> str:
    if result["verified"] is None:
        return "not searched (an id under 8 characters matches other data by chance)"
    return "yes" if result["verified"] else "NO: " + ", ".join(result["remaining_files"])


@users_app.command("erase")
def users_erase(
    user_ids: list[str] = typer.Argument(..., help="User ids (a batch shares one compaction)."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the erasure cannot be undone."),
    as_json: bool = JsonOpt,
) -> None:
    """Erase every trace of users: tables, caches, model files, Parquet lakes, and the warehouse's bytes."""
    from liveloop.core.config import get_settings
    from liveloop.core.crypto import load_cipher
    from liveloop.privacy.rights import erase_users

    if not yes:
        raise ValidationFailed(
            f"erasing {', '.join(user_ids)} cannot be undone: add --yes to confirm", field="yes"
        )
    settings = get_settings()
    with open_warehouse() as wh:
        result = erase_users(wh, user_ids, settings=settings, cipher=load_cipher(settings), actor="cli")

    def render(batch: dict[str, Any]) -> None:
        for r in batch["users"]:
            console.print(
                f"erased {r['user_id']}: {sum(r['deleted'].values())} rows deleted, "
                f"{sum(r['anonymised'].values())} records anonymised, {r['files_rewritten']} files and "
                f"{r['lakes_rewritten']} lakes rewritten; no byte of the id left: {_verdict(r)}",
                markup=False,
            )
        console.print(f"{len(batch['users'])} erased in {batch['seconds']} s (one compaction)", markup=False)

    emit(result, as_json, render)


def _render_policies(rows: list[dict[str, Any]]) -> None:
    table = Table(
        "table", "keeps (days)", "set by", title="retention policies (tables not listed keep everything)"
    )
    for p in rows:
        table.add_row(p["table"], str(p["days"]), p["updated_by"] or "—")
    console.print(table)


@retention_app.command("show")
def retention_show(as_json: bool = JsonOpt) -> None:
    """The retention policies."""
    from liveloop.privacy.retention import policies

    with open_warehouse(read_only=True) as wh:
        emit(policies(wh), as_json, _render_policies)


@retention_app.command("set")
def retention_set(
    table: str = typer.Argument(
        ..., help="events, comments, messages, quarantine, live_minutes, live_alerts, audit_log."
    ),
    days: int = typer.Argument(..., help="Days a row is kept (audit_log: at least 1095)."),
    as_json: bool = JsonOpt,
) -> None:
    """Keep a table's rows this many days; the daily job of `liveloop serve` deletes older ones."""
    from liveloop.privacy.retention import set_policy

    with open_warehouse() as wh:
        emit(set_policy(wh, table, days, actor="cli"), as_json, _render_policies)


@retention_app.command("clear")
def retention_clear(
    table: str = typer.Argument(..., help="The table to keep everything of again."), as_json: bool = JsonOpt
) -> None:
    """Remove a table's policy (it keeps everything again)."""
    from liveloop.privacy.retention import set_policy

    with open_warehouse() as wh:
        emit(set_policy(wh, table, None, actor="cli"), as_json, _render_policies)


@retention_app.command("apply")
def retention_apply(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; delete nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Apply the policies now: delete every row older than its table keeps, with counts."""
    from liveloop.privacy.retention import apply

    with open_warehouse() as wh:
        result = apply(wh, dry_run=dry_run, actor="cli")

    def render(r: dict[str, Any]) -> None:
        verb = "would delete" if r["dry_run"] else "deleted"
        for name, t in r["tables"].items():
            console.print(f"{name}: {verb} {t['deleted']:,} rows older than {t['days']} days", markup=False)
        if not r["tables"]:
            console.print("no retention policy is set: every table keeps everything", markup=False)

    emit(result, as_json, render)
