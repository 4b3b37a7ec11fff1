"""The ``liveloop evaluate`` group; each capability adds its own sub-command to ``evaluate_app``."""

from __future__ import annotations

import typer

evaluate_app = typer.Typer(
    help="Measure model quality on real data sets and the simulator.", no_args_is_help=True
)
