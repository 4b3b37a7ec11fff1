"""``liveloop simulate``: a synthetic live-commerce world, into the warehouse or to Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse

_FIGURES = ("users", "products", "hosts", "sessions", "events", "orders", "comments", "gmv")


def simulate(
    users: int | None = typer.Option(
        None, "--users", min=10, help="Number of users (default: the preset's)."
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, max=366, help="Days simulated (default: the preset's)."
    ),
    seed: int = typer.Option(
        7, "--seed", min=0, help="Random seed: the same seed gives byte-identical files."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write Parquet files (and truth/) here instead of importing into the warehouse."
    ),
    scale: str = typer.Option("small", "--scale", help="Preset: tiny, small (the demo), medium or large."),
    markdown_rate: float = typer.Option(
        0.0,
        "--markdown-rate",
        min=0.0,
        max=1.0,
        help="Shelf markdowns: the daily chance one starts per product (0.1 moves like real prices).",
    ),
    media_budget: float = typer.Option(
        0.0,
        "--media-budget",
        min=0.0,
        help="Paid media: CNY a day per 1,000 users across four ad channels, flighted week by week "
        "(written to ad_spend; `liveloop budget` fits it). 0: none.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Generate a synthetic live-commerce world with known ground truth (never real data)."""
    from liveloop.datasets.simulator import SimConfig, simulate_into_warehouse, simulate_to_dir, writable_dir

    cfg = SimConfig.preset(
        scale, seed=seed, users=users, days=days, markdown_rate=markdown_rate, media_budget=media_budget
    )  # validates the scale first
    if out is not None:
        writable_dir(out)  # a clear one-line error before any progress bar is drawn
    with Progress(
        TextColumn("simulating days"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("days", total=cfg.days)

        def on_day(done: int, total: int) -> None:
            bar.update(task, completed=done)
            if done == total:
                bar.stop()  # let the import's own progress bars take the screen

        if out is not None:
            result = simulate_to_dir(out, cfg, on_day=on_day)
            result["scale"] = scale
        else:
            with open_warehouse() as wh:
                result = simulate_into_warehouse(
                    wh,
                    scale=scale,
                    seed=seed,
                    users=users,
                    days=days,
                    markdown_rate=markdown_rate,
                    media_budget=media_budget,
                    on_day=on_day,
                    progress=not as_json,
                )

    def render(r: dict[str, Any]) -> None:
        where = r["out_dir"] or "the warehouse"
        console.print(
            f"[bold]Synthetic world[/bold] (seed {r['seed']}, {r['days']} days from {r['start']}) → {where}"
        )
        for key in _FIGURES:
            value = r[key]
            console.print(f"  {key:<9} {value:>14,.2f}" if key == "gmv" else f"  {key:<9} {value:>11,}")
        console.print(f"  ground truth: {r['truth_dir']} (kept apart from the training tables)")

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    """Attach ``liveloop simulate`` to the main app."""
    app.command("simulate")(simulate)
