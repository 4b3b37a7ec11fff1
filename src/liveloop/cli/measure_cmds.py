"""``liveloop kpi|funnel|cohort …``: live-commerce KPIs at any grain with their targets, funnels and
retention cohorts. Each command parses, calls one function of ``liveloop.analytics`` and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import EngineOpt, JsonOpt, console, emit, human, open_warehouse, parse_time
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
    _register_more(app)


def _where(session: str | None, host: str | None, product: str | None, channel: str | None) -> dict[str, str]:
    given = {"session": session, "host": host, "product": product, "channel": channel}
    return {k: v for k, v in given.items() if v}


def _duration(seconds: float) -> str:
    """Seconds as people read them: 45 s, 12.5 min, 3.2 h, 14.9 d."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


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
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """KPIs per grain over a window (every metric with its formula in docs/measurement.md)."""
    from liveloop.analytics.kpis import compute
    from liveloop.warehouse.spark import batch_source, check_engine

    with open_warehouse(read_only=check_engine(engine) == "duckdb") as wh:
        result = compute(
            batch_source(wh, engine),
            metric or None,
            grain,
            start=parse_time(start, "start"),
            end=parse_time(end, "end"),
            where=_where(session, host, product, channel),
            tz=get_settings().timezone,
        )
    emit(result, as_json, _render)


@kpi_app.command("penetration")
def kpi_penetration(
    category: str = typer.Argument(..., help="A product category (see `liveloop products`)."),
    start: str | None = typer.Option(None, "--start", help="From (ISO time)."),
    end: str | None = typer.Option(None, "--end", help="Until (ISO time, exclusive)."),
    as_json: bool = JsonOpt,
) -> None:
    """Penetration of a category in each segment: the share of its users who bought the category."""
    from liveloop.analytics.penetration import penetration

    with open_warehouse(read_only=True) as wh:
        result = penetration(wh, category, start=parse_time(start, "start"), end=parse_time(end, "end"))

    def show(r: dict[str, Any]) -> None:
        table = Table(title=f"Penetration of {r['category']} by segment")
        for col in ("segment", "users", "buyers", "penetration"):
            table.add_column(col, justify="left" if col == "segment" else "right")
        for row in [*r["segments"], {"name_en": "all users", **r["overall"]}]:
            table.add_row(
                row["name_en"], human(row["users"]), human(row["buyers"]), _show(row["penetration"], "ratio")
            )
        console.print(table)

    emit(result, as_json, show)


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
        result = status(wh, as_of=parse_time(as_of, "as_of"), tz=get_settings().timezone)
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


funnel_app = typer.Typer(help="Funnels over any event sequence: ordered, strict or any order, with a window.")
cohort_app = typer.Typer(help="Retention by first-purchase cohort.", no_args_is_help=True)
attribution_app = typer.Typer(
    help="Which channel or campaign paid: attribution models, cost, CAC, ROAS, ROI."
)


def _register_more(app: typer.Typer) -> None:
    app.add_typer(funnel_app, name="funnel")
    app.add_typer(cohort_app, name="cohort")
    app.add_typer(attribution_app, name="attribution")


def _window(value: str) -> int:
    """``90s``, ``30m``, ``2h``, ``7d`` or plain seconds, as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ValidationFailed(f"window {value!r}: use seconds or 30m, 2h, 7d", field="window_s") from None


def _render_funnel(r: dict[str, Any]) -> None:
    def show(steps: list[dict[str, Any]], title: str) -> None:
        table = Table(title=title)
        for col in ("step", "users", "from previous", "from first", "median time to convert"):
            table.add_column(col, justify="left" if col == "step" else "right")
        for s in steps:
            t = s["time_to_convert_s"]
            table.add_row(
                s["step"],
                human(s["users"]),
                "—" if s["from_previous"] is None else f"{s['from_previous']:.1%}",
                "—" if s["from_first"] is None else f"{s['from_first']:.1%}",
                "—" if not t else _duration(t["median"]),
            )
        console.print(table)

    show(r["steps"], f"{r['mode']} funnel, window {r['window_s']} s")
    for g in r["groups"]:
        show(g["steps"], f"{r['breakdown']} = {g['breakdown'] or '—'}")


@funnel_app.callback(invoke_without_command=True)
def funnel_run(
    steps: str | None = typer.Option(None, "--steps", help="Event types in order, comma-separated."),
    preset: str | None = typer.Option(None, "--preset", help="live or lifecycle (instead of --steps)."),
    window: str = typer.Option("1d", "--window", help="Conversion window: seconds, or 30m, 2h, 7d."),
    mode: str = typer.Option("ordered", "--mode", help="ordered, strict or any."),
    breakdown: str | None = typer.Option(None, "--breakdown", help="channel, host, category or segment."),
    start: str | None = typer.Option(None, "--start", help="From (ISO time)."),
    end: str | None = typer.Option(None, "--end", help="Until (ISO time, exclusive)."),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Users reaching each step, conversion and time to convert (per breakdown value)."""
    from liveloop.analytics.funnels import FunnelSpec, run
    from liveloop.warehouse.spark import batch_source, check_engine

    common_args: dict[str, Any] = {
        "window_s": _window(window),
        "mode": mode,
        "breakdown": breakdown,
        "start": parse_time(start, "start"),
        "end": parse_time(end, "end"),
    }
    spec = FunnelSpec.of(steps, preset, **common_args)
    with open_warehouse(read_only=check_engine(engine) == "duckdb") as wh:
        emit(run(batch_source(wh, engine), spec), as_json, _render_funnel)


def _render_cohorts(r: dict[str, Any]) -> None:
    table = Table(title=f"retention by first-purchase {r['period']}")
    table.add_column("cohort")
    table.add_column("size", justify="right")
    for k in range(r["offsets"] + 1):
        table.add_column(f"+{k}", justify="right")
    for c in r["cohorts"]:
        table.add_row(c["cohort"], human(c["size"]), *("" if x is None else f"{x:.0%}" for x in c["rates"]))
    table.add_row("all", "", *("" if x is None else f"{x:.0%}" for x in r["overall"]))
    console.print(table)


@cohort_app.command("retention")
def cohort_retention(
    period: str = typer.Option("week", "--period", help="week or month."),
    offsets: int = typer.Option(12, "--offsets", help="How many later periods (1–52)."),
    start: str | None = typer.Option(None, "--start", help="Cohorts from (ISO time)."),
    end: str | None = typer.Option(None, "--end", help="Cohorts until (ISO time, exclusive)."),
    as_json: bool = JsonOpt,
) -> None:
    """Share of each first-purchase cohort buying again in each later week or month."""
    from liveloop.analytics.cohorts import retention

    with open_warehouse(read_only=True) as wh:
        result = retention(
            wh,
            period=period,
            offsets=offsets,
            start=parse_time(start, "start"),
            end=parse_time(end, "end"),
            tz=get_settings().timezone,
        )
    emit(result, as_json, _render_cohorts)


def _render_attribution(r: dict[str, Any]) -> None:
    table = Table(title=f"{r['model']} attribution by {r['level']} ({r['window_days']}-day look-back)")
    for col in ("touch", "orders", "GMV", "new customers", "cost", "CAC", "ROAS", "ROI"):
        table.add_column(col, justify="left" if col == "touch" else "right")
    money = get_settings().money
    for row in r["rows"]:
        table.add_row(
            row["touch"],
            f"{row['orders']:.1f}",
            money(row["gmv"]),
            f"{row['new_customers']:.1f}",
            money(row["cost"]) if row["cost"] is not None else "—",
            money(row["cac"]) if row["cac"] is not None else "—",
            "—" if row["roas"] is None else f"{row['roas']:.2f}",
            "—" if row["roi"] is None else f"{row['roi']:.0%}",
        )
    console.print(table)
    for p in r["paths"][:5]:
        console.print(
            f"  {' → '.join(p['path'])}: {p['conversions']} orders ({p['rate']:.0%} of paths convert)",
            markup=False,
        )


@attribution_app.callback(invoke_without_command=True)
def attribution_run(
    model: str = typer.Option("last", "--model", help="last, first, linear, position, markov, or all."),
    level: str = typer.Option("channel", "--level", help="channel or campaign."),
    window_days: int = typer.Option(7, "--window-days", help="Look-back window before an order (1–90 days)."),
    start: str | None = typer.Option(None, "--start", help="Orders from (ISO time)."),
    end: str | None = typer.Option(None, "--end", help="Orders until (ISO time, exclusive)."),
    as_json: bool = JsonOpt,
) -> None:
    """Orders, GMV and new customers credited to each channel or campaign, with cost, CAC, ROAS, ROI."""
    from liveloop.analytics import attribution

    common: dict[str, Any] = {
        "level": level,
        "window_days": window_days,
        "start": parse_time(start, "start"),
        "end": parse_time(end, "end"),
    }

    def render(r: dict[str, Any]) -> None:
        for one in r.values() if model == "all" else [r]:
            _render_attribution(one)

    with open_warehouse(read_only=True) as wh:
        emit(attribution.report(wh, model, **common), as_json, render)
