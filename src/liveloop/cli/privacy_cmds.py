"""A person's rights over their data, under ``liveloop users``: consents and explained decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.cli.profiles_cmds import users_app
from liveloop.core.errors import ValidationFailed


def register(app: typer.Typer) -> None:
    """The commands are on ``users_app``, which ``profiles_cmds`` attaches."""


@users_app.command("decisions")
def users_decisions(
    user_id: str = typer.Argument(..., help="User id."),
    lang: str = typer.Option("zh", "--lang", help="zh or en: the language of the explanations."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, newest first."),
    as_json: bool = JsonOpt,
) -> None:
    """Automated decisions about a user, each with its explanation (PIPL art. 24)."""
    import liveloop.live
    import liveloop.recommend  # noqa: F401  (each capability registers its explainers on import)
    from liveloop.core.clock import display_time
    from liveloop.core.config import get_settings
    from liveloop.privacy.audit import decisions

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
