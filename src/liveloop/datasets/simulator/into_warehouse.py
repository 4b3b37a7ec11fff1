"""Simulate a world straight into the warehouse, through the same ingestion path as real data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse


def simulate_into_warehouse(
    wh: Warehouse,
    *,
    scale: str = "small",
    seed: int = 7,
    users: int | None = None,
    days: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate the ``scale`` preset world (overridable users/days) and import it into ``wh``.

    Returns a summary: ``{"scale", "seed", "users", "products", "hosts", "sessions", "events", "orders",
    "comments", "gmv", "truth_dir", "imports": {...}}``. Ground truth goes to LIVELOOP_HOME/simulator/truth,
    never into the warehouse tables.
    """
    raise NotImplementedError("landing shortly")
