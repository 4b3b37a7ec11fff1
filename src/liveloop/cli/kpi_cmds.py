"""``liveloop kpi …``: live-commerce KPIs at any grain, their targets, and where they stand. Each command
parses, calls one function of ``liveloop.analytics`` and prints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, human, open_warehouse
from liveloop.core.clock import checked_time
from liveloop.core.config import get_settings
from liveloop.core.errors import ValidationFailed

kpi_app = typer.Typer(
    help="Live-commerce KPIs: GMV, GPM, conversion, watch time … against targets.", no_args_is_help=True
)
targets_app = typer.Typer(help="KPI targets and their ranges per day, week or month.", no_args_is_help=True)
kpi_app.add_typer(targets_app, name="targets")

ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(kpi_app, name="kpi")


def _time(value: str | None, field: str) -> datetime | None:
    """An ISO time (no offset: the display zone) as an aware time; a clear error naming ``field``."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be an ISO 8601 time, e.g. 2026-11-11T20:00", field=field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return checked_time(moment, field)


def _where(session: str | None, host: str | None, product: str | None, channel: str | None) -> dict[str, str]:
    given = {"session": session, "host": host, "product": product, "channel": channel}
    return {k: v for k, v in given.items() if v}


def _show(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "money":
        return get_settings().money(value)
    if unit == "seconds":
        return f"{value:.0f} s"
    return human(int(value) if float(value).is_integer() else value)


def _render(r: dict[str, Any]) -> None:
    table = Table(title=f"KPIs by {r['grain']}")
    table.add_column(r["grain"])
    for m in r["metrics"]:
        table.add_column(f"{m['name_en']}\n{m['name_zh']}", justify="right")
    for row in r["rows"]:
        table.add_row(row["key"] or "—", *(_show(row[m["key"]], m["unit"]) for m in r["metrics"]))
    console.print(table)


@kpi_app.command("show")
def kpi_show(
    metric: list[str] | None = typer.Option(None, "--metric", help="A metric (repeatable; default: all)."),
    grain: str = typer.Option(
        "platform", "--grain", help="platform, day, host, session, product, channel, segment."
    ),
    start: str | None = typer.Option(None, "--start", help="From (ISO time)."),
    end: str | None = typer.Option(None, "--end", help="Until (ISO time, exclusive)."),
    session: str | None = typer.Option(None, "--session", help="Only this live session."),
    host: str | None = typer.Option(None, "--host", help="Only this host's sessions."),
    product: str | None = typer.Option(None, "--product", help="Only this product."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    as_json: bool = JsonOpt,
) -> None:
    """KPIs per grain over a window (every metric with its formula in docs/measurement.md)."""
    from liveloop.analytics.kpis import compute

    with open_warehouse(read_only=True) as wh:
        result = compute(
            wh,
            metric or None,
            grain,
            start=_time(start, "start"),
            end=_time(end, "end"),
            where=_where(session, host, product, channel),
            tz=get_settings().timezone,
        )
    emit(result, as_json, _render)


@kpi_app.command("metrics")
def kpi_metrics(as_json: bool = JsonOpt) -> None:
    """Every metric liveloop knows, with its formula."""
    from liveloop.analytics.kpis import METRICS

    rows = [
        {
            "key": m.key,
            "name_en": m.name_en,
            "name_zh": m.name_zh,
            "formula": m.numerator
            + (f" / {m.denominator}" if m.denominator else "")
            + (f" × {m.scale:g}" if m.scale != 1 else ""),
            "unit": m.unit,
            "higher_is_better": m.higher_is_better,
        }
        for m in METRICS.values()
    ]

    def render(items: list[dict[str, Any]]) -> None:
        for i in items:
            console.print(
                f"{i['key']:22} {i['name_zh']} / {i['name_en']}: {i['formula']} ({i['unit']})", markup=False
            )

    emit(rows, as_json, render)


def _render_status(r: dict[str, Any]) -> None:
    if not r["targets"]:
        console.print("no targets: set one with `liveloop kpi targets set`", markup=False)
        return
    console.print(f"as of {r['as_of']}", markup=False)
    for t in r["targets"]:
        where = "" if t["grain"] == "platform" else f" [{t['grain']} {t['key']}]"
        console.print(
            f"{t['status']:12} {t['metric']}{where} ({t['period']}): {_show(t['actual'], t['unit'])} of "
            f"{_show(t['target'], t['unit'])}, {_show(t['expected_so_far'], t['unit'])} expected by now",
            markup=False,
        )
    for a in r["alerts"]:
        console.print(f"alert: {a['en']}", markup=False, soft_wrap=True)


@kpi_app.command("status")
def kpi_status(
    as_of: str | None = typer.Option(None, "--as-of", help="When (default: the newest data)."),
    as_json: bool = JsonOpt,
) -> None:
    """Each target against the period so far, and the alerts."""
    from liveloop.analytics.targets import status

    with open_warehouse(read_only=True) as wh:
        result = status(wh, as_of=_time(as_of, "as_of"), tz=get_settings().timezone)
    emit(result, as_json, _render_status)


@targets_app.command("set")
def targets_set(
    metric: str = typer.Argument(..., help="The metric (see `liveloop kpi metrics`)."),
    period: str = typer.Option(..., "--period", help="day, week or month."),
    target: float = typer.Option(..., "--target", help="The target value for the period."),
    low: float | None = typer.Option(None, "--low", help="The lowest acceptable value (a range)."),
    high: float | None = typer.Option(None, "--high", help="The highest acceptable value (a budget range)."),
    grain: str = typer.Option(
        "platform", "--grain", help="platform, host, session, product, channel, segment."
    ),
    key: str = typer.Option("all", "--key", help="Which host, session … (with --grain)."),
    as_json: bool = JsonOpt,
) -> None:
    """Set (or replace) a target."""
    from liveloop.analytics.targets import Target, set_target

    spec = Target.from_dict(
        {
            "metric": metric,
            "period": period,
            "target": target,
            "low": low,
            "high": high,
            "grain": grain,
            "key": key,
        }
    )
    with open_warehouse() as wh:
        emit(set_target(wh, spec, actor=ACTOR), as_json)


@targets_app.command("load")
def targets_load(
    file: Path = typer.Argument(..., help="A TOML file of [[target]] tables."),
    as_json: bool = JsonOpt,
) -> None:
    """Load targets from TOML (all checked before any is stored)."""
    from liveloop.analytics.targets import load_toml

    with open_warehouse() as wh:
        loaded = load_toml(wh, file, actor=ACTOR)
    emit(
        {"loaded": len(loaded), "targets": loaded},
        as_json,
        lambda r: console.print(f"loaded {r['loaded']} targets"),
    )


@targets_app.command("list")
def targets_list(as_json: bool = JsonOpt) -> None:
    """Every target."""
    from liveloop.analytics.targets import list_targets

    with open_warehouse(read_only=True) as wh:
        rows = list_targets(wh)

    def render(items: list[dict[str, Any]]) -> None:
        if not items:
            console.print("no targets", markup=False)
        for t in items:
            console.print(
                f"{t['metric']} {t['grain']}:{t['key']} per {t['period']}: {t['target']:g}", markup=False
            )

    emit(rows, as_json, render)
