"""``liveloop budget …``: paid-media spend in, response curves fitted (carry-over and saturation), a period's
budget allocated over the channels, and the spend tracked against the plan. Each command parses, calls
one function and prints."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, human, open_warehouse
from liveloop.core.config import get_settings
from liveloop.core.errors import ValidationFailed

budget_app = typer.Typer(
    help="Media budget: spend per channel, response curves, allocation with bounds, spend vs plan.",
    no_args_is_help=True,
)
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")


@budget_app.command("spend")
def budget_spend(
    file: Path = typer.Argument(
        ..., help="CSV (UTF-8 or GBK) or Parquet: day, channel, spend (CNY)[, source]."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Import daily spend per channel (a day and channel already held is replaced); all rows or none."""
    from liveloop.budget.spend import read_spend_file, record_spend

    rows = read_spend_file(file)
    with open_warehouse() as wh:
        done = record_spend(wh, rows, source=file.name)
    emit(
        done,
        as_json,
        lambda r: console.print(f"{r['rows']} rows ({r['replaced']} replaced), {r['channels']} channels"),
    )


def _render_model(m: dict[str, Any]) -> None:
    console.print(
        f"{m['days']} days {m['start']} → {m['end']}; baseline GMV {human(m['baseline_gmv'])} a day; "
        f"fit MAPE {m['fit']['mape']:.1%}",
        markup=False,
    )
    table = Table(
        "channel", "carry-over", "half-sat.", "shape", "max lift", "last daily", "ROI at last", "marginal"
    )
    for c in m["curves"]:
        table.add_row(
            c["channel"], f"{c['decay']:.2f}", f"{c['half']:.2f}", f"{c['shape']:.2f}", f"{c['beta']:.1%}",
            human(c["last_spend"]), "—" if c["roi_at_last"] is None else f"{c['roi_at_last']:.2f}",
            f"{c['marginal_at_last']:.2f}",
        )  # fmt: skip
    console.print(table)


@budget_app.command("fit")
def budget_fit(
    days: int | None = typer.Option(
        None, "--days", min=28, help="Fit the last N days of spend (default: all)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Fit each channel's response curve (carry-over, saturation) on daily GMV and spend."""
    from liveloop.budget.plans import describe_model, fit_model

    settings = get_settings()
    with open_warehouse(read_only=True) as wh:
        model = fit_model(wh, settings.timezone, days=days)
    emit(describe_model(model), as_json, _render_model)


def _render_plan(p: dict[str, Any]) -> None:
    e = p["expected"]
    console.print(
        f"{p['plan_id']} {p['name']!r}: {p['starts']} → {p['ends']}, {human(p['total'])} CNY "
        f"({p['objective']}); "
        f"expected extra GMV {human(e['extra_gmv'])} (ROI {e['roi']}), proportional split "
        f"{human(e['proportional_extra_gmv'])}; spent {human(p['spent'])} of {human(p['planned_to_date'])} "
        f"planned to date",
        markup=False,
    )
    table = Table(
        "channel", "last daily", "bounds", "planned daily", "extra GMV", "marginal ROI", "spent", "pace"
    )
    for x in p["lines"]:
        table.add_row(
            x["channel"], human(x["last_daily"]), f"{human(x['low_daily'])}–{human(x['high_daily'])}",
            human(x["planned_daily"]), human(x["expected_gmv"]), f"{x['marginal_roi']:.2f}",
            human(x["spent"]), "—" if x["pace"] is None else f"{x['pace']:.0%}",
        )  # fmt: skip
    console.print(table)


@budget_app.command("plan")
def budget_plan(
    name: str = typer.Argument(..., help="The plan's name."),
    total: float | None = typer.Option(
        None, "--total", help="Budget for the whole period (CNY; default: last 28 days' daily spend × days)."
    ),
    target_roi: float | None = typer.Option(
        None,
        "--target-roi",
        help="Instead of a total: the largest budget whose extra GMV per CNY meets this.",
    ),
    days: int = typer.Option(7, "--days", min=1, max=366, help="Days the plan covers."),
    starts: str | None = typer.Option(None, "--starts", help="First day, YYYY-MM-DD (default: tomorrow)."),
    low: float = typer.Option(0.7, "--low", help="Lowest daily spend per channel, × its last 28 days."),
    high: float = typer.Option(1.5, "--high", help="Highest daily spend per channel, × its last 28 days."),
    as_json: bool = JsonOpt,
) -> None:
    """Allocate a budget over the channels for the most extra GMV (or a target ROI), within bounds."""
    from liveloop.budget.plans import create_plan, default_start

    try:
        first = date.fromisoformat(starts) if starts else None
    except ValueError:
        raise ValidationFailed(f"--starts {starts!r} is not a date (YYYY-MM-DD)", field="starts") from None
    settings = get_settings()
    with open_warehouse() as wh:
        plan = create_plan(
            wh, settings.timezone, name=name, starts=first or default_start(settings.timezone), days=days,
            total=total, target_roi=target_roi, low=low, high=high, actor=ACTOR,
        )  # fmt: skip
    emit(plan, as_json, _render_plan)


@budget_app.command("plans")
def budget_plans(limit: int = typer.Option(20, "--limit", min=1, max=500), as_json: bool = JsonOpt) -> None:
    """Budget plans, newest first."""
    from liveloop.budget.plans import list_plans

    with open_warehouse(read_only=True) as wh:
        found = list_plans(wh, limit=limit)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("plan", "name", "period", "total", "objective")
        for r in rows:
            table.add_row(
                r["plan_id"],
                escape(r["name"]),
                f"{r['starts']} → {r['ends']}",
                human(r["total"]),
                r["objective"],
            )
        console.print(table)

    emit(found, as_json, render)


@budget_app.command("show")
def budget_show(plan_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """A plan and its spend so far against it, per channel."""
    from liveloop.budget.plans import get_plan

    with open_warehouse(read_only=True) as wh:
        plan = get_plan(wh, plan_id, tz=get_settings().timezone)
    emit(plan, as_json, _render_plan)
