"""``liveloop pricing …``: elasticities, recommended list prices, what-if, applying a price (with the rules
of DESIGN.md §8.2–8.3). Each command parses, calls one function of ``liveloop.pricing`` and prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse, parse_time

pricing_app = typer.Typer(
    help="Price elasticities, recommended list prices with reasons, what-if, and applying a price lawfully.",
    no_args_is_help=True,
)
PRODUCTS = typer.Option(None, "--product", help="A product id (repeat); default: every product that sold.")


def register(app: typer.Typer) -> None:
    app.add_typer(pricing_app, name="pricing")


def _num(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


@pricing_app.command("fit")
def pricing_fit(
    context: str = typer.Option("shelf", "--context", help="shelf, live or all sales."),
    since: str | None = typer.Option(None, "--since", help="Window start (ISO; default 90 days back)."),
    until: str | None = typer.Option(None, "--until", help="Window end (ISO; default the newest order)."),
    as_json: bool = JsonOpt,
) -> None:
    """Fit own-price elasticities per category and product from sales, views and the price history."""
    from liveloop.pricing import fit

    with open_warehouse() as wh:
        found = fit(wh, context=context, start=parse_time(since, "since"), end=parse_time(until, "until"))

    def render(r: dict[str, Any]) -> None:
        table = Table(
            "category", "elasticity", "95% interval", title=f"elasticities ({r['info']['context']})"
        )
        for c in r["categories"]:
            table.add_row(c["category"], _num(c["elasticity"]), f"{_num(c['low'])} – {_num(c['high'])}") if c[
                "identified"
            ] else table.add_row(c["category"], "not identifiable", "prices never moved")
        console.print(table)
        console.print(
            f"{len(r['products'])} products: "
            + ", ".join(f"{n} {k}" for k, n in r["info"]["sources"].items())
            + f" · fit {r['fit_id']}"
        )

    emit(found, as_json, render)


@pricing_app.command("elasticities")
def pricing_elasticities(
    products: list[str] | None = PRODUCTS,
    top: int = typer.Option(20, "--top", min=1, max=500, help="Products shown (most sold first)."),
    as_json: bool = JsonOpt,
) -> None:
    """The latest fit's elasticity per product (fitted now if there is none), with where it came from."""
    from liveloop.pricing.service import product_elasticities

    with open_warehouse() as wh:
        found = product_elasticities(wh, products=products, top=top)

    def render(r: dict[str, Any]) -> None:
        table = Table("product", "category", "units", "elasticity", "95% interval", "source", "why")
        for p in r["products"]:
            table.add_row(
                p["product"], p["category"], _num(p["units"], 0), _num(p["elasticity"]),
                f"{_num(p['low'])} – {_num(p['high'])}", p["source"], p["reason"] or "",
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@pricing_app.command("recommend")
def pricing_recommend(
    products: list[str] | None = PRODUCTS,
    lower: float = typer.Option(0.7, "--lower", help="Lowest price, × list price."),
    upper: float = typer.Option(1.3, "--upper", help="Highest price, × list price."),
    margin_floor: float = typer.Option(0.05, "--margin-floor", help="Least (price − cost) / price."),
    premium: float = typer.Option(0.05, "--competitor-premium", help="Most above the lowest competitor."),
    min_days: int = typer.Option(7, "--min-days", help="Fewest days between two changes of a price."),
    clear_days: int = typer.Option(
        90, "--clear-days", help="Stock beyond this many days of sales is cleared."
    ),
    objective: str = typer.Option("profit", "--objective", help="profit or gmv."),
    limit: int = typer.Option(
        20, "--limit", min=1, max=500, help="Recommendations shown (largest gain first)."
    ),
    refit: bool = typer.Option(False, "--refit", help="Fit elasticities again first."),
    as_json: bool = JsonOpt,
) -> None:
    """Recommended list prices (one per product, for everyone) with reasons and expected daily profit."""
    from liveloop.pricing import PriceRules, recommend_prices

    rules = PriceRules(
        lower=lower, upper=upper, margin_floor=margin_floor, competitor_premium=premium,
        min_days_between_changes=min_days, clear_days=clear_days, objective=objective,  # type: ignore[arg-type]
    )  # fmt: skip
    with open_warehouse() as wh:
        found = recommend_prices(wh, rules=rules, products=products, limit=limit, refit=refit)

    def render(r: dict[str, Any]) -> None:
        c = r["counts"]
        table = Table(
            "product", "now", "price", "action", "profit/day now → then", "95% gain", "reasons",
            title=f"{c['raise']} raise · {c['lower']} lower · {c['hold']} hold "
            f"(expected +{r['expected_daily_gain']:,.2f}/day)",
        )  # fmt: skip
        for x in r["recommendations"]:
            table.add_row(
                x["product_id"], _num(x["current_price"]), _num(x["price"]), x["action"],
                f"{_num(x['profit_now'])} → {_num(x['profit'])}",
                f"{_num(x['gain_low'])} – {_num(x['gain_high'])}",
                ", ".join(reason["code"] for reason in x["reasons"]),
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@pricing_app.command("what-if")
def pricing_what_if(
    product: str = typer.Argument(..., help="Product id."),
    price: float = typer.Argument(..., help="The price to try."),
    as_json: bool = JsonOpt,
) -> None:
    """Expected units, GMV and profit per day at a price, beside today's."""
    from liveloop.pricing import what_if_price

    with open_warehouse() as wh:
        found = what_if_price(wh, product, price)

    def render(r: dict[str, Any]) -> None:
        console.print(
            f"{r['product_id']} at {r['price']:,.2f} (now {r['current_price']:,.2f}, elasticity "
            f"{r['elasticity']:.2f} {r['elasticity_source']}): {r['units']:.2f} units/day "
            f"({r['units_low']:.2f}–{r['units_high']:.2f}), GMV {r['gmv']:,.2f}"
            + (
                f", profit {r['profit']:,.2f} ({r['profit_low']:,.2f}–{r['profit_high']:,.2f})"
                if "profit" in r
                else ""
            )
        )

    emit(found, as_json, render)


@pricing_app.command("apply")
def pricing_apply(
    product: str = typer.Argument(..., help="Product id."),
    price: float = typer.Argument(..., help="The new price, for everyone."),
    start: str = typer.Option(..., "--start", help="From when (ISO; no offset: the display zone)."),
    end: str | None = typer.Option(None, "--end", help="Until when (default: until the next price)."),
    was: float | None = typer.Option(
        None, "--was", help="A reference price to show (never above the 7-day low)."
    ),
    clearance: bool = typer.Option(False, "--clearance", help="Allow a price below cost (clearing stock)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Set a product's price from a moment, after the price rules pass (nothing is written otherwise)."""
    from liveloop.pricing import apply_price

    moment = cast(datetime, parse_time(start, "start"))  # --start is required: never None
    with open_warehouse() as wh:
        found = apply_price(
            wh, product, price, start=moment, end=parse_time(end, "end"), was_price=was,
            clearance=clearance, reason=reason, actor="cli",
        )  # fmt: skip
    emit(
        found,
        as_json,
        lambda r: console.print(f"{r['product_id']}: {r['price']:,.2f} ({r['kind']}) · {r['price_id']}"),
    )


@pricing_app.command("history")
def pricing_history(
    product: str = typer.Argument(..., help="Product id."),
    limit: int = typer.Option(30, "--limit", min=1, max=500),
    as_json: bool = JsonOpt,
) -> None:
    """A product's price history, newest first (list, festival, markdown and live-slot prices)."""
    from liveloop.pricing import price_history

    with open_warehouse(read_only=True) as wh:
        found = {"product_id": product, "prices": price_history(wh, product, limit=limit)}

    def render(r: dict[str, Any]) -> None:
        table = Table("from", "to", "price", "kind", "was", "session")
        for p in r["prices"]:
            table.add_row(
                str(p["start_ts"])[:16], str(p["end_ts"] or "")[:16], _num(p["price"]), p["kind"],
                _num(p["was_price"]), p["session_id"] or "",
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)
