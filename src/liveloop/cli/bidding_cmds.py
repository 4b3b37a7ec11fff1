"""``liveloop bidding …``: bid advice per audience for platform ad tools, and bidders compared on a
simulated auction stream. Each command parses, calls one function of ``liveloop.budget`` and prints."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse

bidding_app = typer.Typer(
    help="Bids for paid traffic: advice per audience, and linear vs optimal real-time bidding compared.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(bidding_app, name="bidding")


@bidding_app.command("advise")
def bidding_advise(
    days: int = typer.Option(28, "--days", help="Days of data a click's value is learned from."),
    target_roi: float = typer.Option(0.3, "--target-roi", help="Share of a click's value kept as return."),
    paid_share: float = typer.Option(0.1, "--paid-share", help="Paid clicks a day, as a share of own views."),
    as_json: bool = JsonOpt,
) -> None:
    """A suggested bid per click and daily budget for each audience (segment) and for everyone."""
    from liveloop.budget import bid_advice

    with open_warehouse(read_only=True) as wh:
        found = bid_advice(wh, days=days, target_roi=target_roi, paid_share=paid_share)

    def render(r: dict[str, Any]) -> None:
        title = f"bid advice (last {r['window_days']} days, ROI {r['target_roi']:.0%})"
        columns = (
            "audience",
            "users",
            "views/day",
            "conversion",
            "value/click",
            "bid",
            "budget/day",
            "orders/day",
        )
        table = Table(*columns, title=title)
        for a in [*r["audiences"], r["everyone"]]:
            table.add_row(
                a["name_en"] + ("" if a["enough_data"] else " (few orders)"), f"{a['users']:,}",
                f"{a['views_per_day']:,.1f}", f"{a['conversion_rate']:.2%}", f"{a['value_per_click']:,.2f}",
                f"{a['suggested_bid']:,.2f}", f"{a['daily_budget']:,.2f}",
                f"{a['expected_daily_orders']:,.2f}",
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@bidding_app.command("simulate")
def bidding_simulate(
    impressions: int = typer.Option(500_000, "--impressions", help="Auctions per stream (train and test)."),
    seed: int = typer.Option(7, "--seed", help="The simulated world's seed."),
    scale: str = typer.Option("small", "--scale", help="The simulated world's preset."),
    share: list[int] = typer.Option(
        [2, 4, 8, 16, 32, 64], "--share", help="Budget = 1/share of winning all."
    ),
    value: str = typer.Option("clicks", "--value", help="clicks, or profit (click × conversion × margin)."),
    as_json: bool = JsonOpt,
) -> None:
    """Linear bidding and ORTB side by side on a simulated auction stream (simulated data, never real)."""
    from liveloop.budget import STRATEGIES, compare_bidders

    found = compare_bidders(scale=scale, seed=seed, impressions=impressions, shares=tuple(share), value=value)

    def render(r: dict[str, Any]) -> None:
        title = f"{r['impressions']:,} simulated auctions, {r['clicks_available']:,} clicks available"
        table = Table("budget", *(f"{s} clicks / conv." for s in STRATEGIES), title=title)
        for b in r["budgets"]:
            table.add_row(b["share"], *(f"{b[s]['clicks']:,} / {b[s]['conversions']:,}" for s in STRATEGIES))
        console.print(table)

    emit(found, as_json, render)
