"""``liveloop forecast …``: sales forecasts with intervals, their backtest, a live session's stock plan.
Each command parses, calls one function of ``liveloop.analytics`` and prints."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse

forecast_app = typer.Typer(
    help="Sales forecasts (per product, category, host, platform), backtests, stock for a live session.",
    no_args_is_help=True,
)
BY = typer.Option("category", "--by", help="product, category, host or platform.")
MEASURE = typer.Option("gmv", "--measure", help="gmv or units.")
HORIZON = typer.Option(7, "--horizon", help="Periods ahead (days, or weeks with --weekly).")
WEEKLY = typer.Option(False, "--weekly", help="Weekly series (Monday start) instead of daily.")
IDS = typer.Option(None, "--id", help="A key to forecast (repeat); default: the ones that sold most.")
TOP = typer.Option(10, "--top", help="How many of the keys that sold most (without --id).")


def register(app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")


@forecast_app.command("sales")
def forecast_sales(
    by: str = BY, measure: str = MEASURE, horizon: int = HORIZON, weekly: bool = WEEKLY,
    ids: list[str] | None = IDS, top: int = TOP, as_json: bool = JsonOpt,
) -> None:  # fmt: skip
    """Forecast GMV or units per key, with 80% and 95% intervals (liveloop's combination of models)."""
    from liveloop.analytics import forecast_service

    with open_warehouse(read_only=True) as wh:
        found = forecast_service.sales_forecast(
            wh, by, measure, horizon, freq="W" if weekly else "D", ids=ids, top=top
        )

    def render(r: dict[str, Any]) -> None:
        table = Table(
            "key", "period", "forecast", "80% interval", "95% interval", title=f"{r['measure']} by {r['by']}"
        )
        for s in r["series"]:
            for i, row in enumerate(s["forecast"]):
                q = row["quantiles"]
                table.add_row(
                    s["id"] if i == 0 else "", row["ds"], f"{row['mean']:,.2f}",
                    f"{q.get('0.1', 0):,.2f} – {q.get('0.9', 0):,.2f}",
                    f"{q.get('0.025', 0):,.2f} – {q.get('0.975', 0):,.2f}",
                )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@forecast_app.command("backtest")
def forecast_backtest(
    by: str = BY, measure: str = MEASURE, horizon: int = HORIZON, weekly: bool = WEEKLY,
    origins: int = typer.Option(4, "--origins", help="Rolling origins, a horizon apart."),
    ids: list[str] | None = IDS, top: int = TOP, as_json: bool = JsonOpt,
) -> None:  # fmt: skip
    """How the forecast did on past periods: MASE and WMAE beside each model and seasonal naive."""
    from liveloop.analytics import forecast_service

    with open_warehouse(read_only=True) as wh:
        found = forecast_service.sales_backtest(
            wh, by, measure, horizon, freq="W" if weekly else "D", origins=origins, ids=ids, top=top
        )

    def render(r: dict[str, Any]) -> None:
        table = Table("model", "MASE", "WMAE", title=f"{r['origins']} origins, horizon {r['h']}")
        for model, s in r["overall"].items():
            table.add_row(model, _num(s.get("mase")), _num(s.get("wmae")))
        console.print(table)

    emit(found, as_json, render)


@forecast_app.command("stock")
def forecast_stock(
    session_id: str | None = typer.Argument(None, help="A live session (its lineup and day)."),
    product: list[str] | None = typer.Option(None, "--product", help="A product (repeat), with --day."),
    day: str | None = typer.Option(None, "--day", help="The session's day, YYYY-MM-DD."),
    service_level: float = typer.Option(0.95, "--service-level", help="Chance the stock covers demand."),
    as_json: bool = JsonOpt,
) -> None:
    """The stock each product of a live session needs at a service level."""
    from liveloop.analytics import demand

    with open_warehouse(read_only=True) as wh:
        found = demand.stock_plan(
            wh, session_id=session_id, products=product, day=day, service_level=service_level
        )

    def render(r: dict[str, Any]) -> None:
        title = f"stock for {r['session_id'] or 'the products'} on {r['day']}"
        quantile = f"{r['service_level']:.0%} quantile"
        table = Table("product", "expected", quantile, "recommended", "stock", "short", title=title)
        for p in r["products"]:
            table.add_row(
                p["product_id"], f"{p['expected_units']:g}", f"{p['quantile_units']:g}",
                str(p["recommended_stock"]), _maybe(p["stock"]), _maybe(p["shortfall"]),
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


def _maybe(x: int | None) -> str:
    return "—" if x is None else str(x)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:,.4g}"
