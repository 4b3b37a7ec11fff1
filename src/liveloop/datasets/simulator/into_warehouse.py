"""Simulate a world straight into the warehouse, through the same ingestion path as real data."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liveloop.datasets.simulator.config import SimConfig
from liveloop.datasets.simulator.run import TABLES, simulate_to_dir

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse


def simulator_dir(wh: Warehouse) -> Path:
    """``LIVELOOP_HOME/simulator`` of the warehouse's home: staging files and ground truth live here."""
    return wh.path.parent / "simulator"


def simulate_into_warehouse(
    wh: Warehouse,
    *,
    scale: str = "small",
    seed: int = 7,
    users: int | None = None,
    days: int | None = None,
    progress: bool = False,
    on_day: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate the ``scale`` preset world (overridable users/days) and import it into ``wh``.

    Returns a summary: ``{"scale", "seed", "users", "products", "hosts", "sessions", "events", "orders",
    "comments", "gmv", "truth_dir", "imports": {table: counts}}``. Ground truth goes to
    LIVELOOP_HOME/simulator/truth, never into the warehouse tables. Re-running the same seed loads nothing
    twice (the ids are deterministic).
    """
    from liveloop.ingest import import_file

    cfg = SimConfig.preset(scale, seed=seed, users=users, days=days)
    home = simulator_dir(wh)
    staging = home / f"staging-{seed}"
    truth = home / "truth"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(truth, ignore_errors=True)
    try:
        result = simulate_to_dir(staging, cfg, truth_dir=truth, on_day=on_day)
        imports: dict[str, dict[str, int]] = {}
        for table in TABLES:
            report = import_file(
                wh, staging / f"{table}.parquet", adapter="native", table=table, progress=progress
            )
            imports[table] = {
                "rows_read": report.rows_read,
                "loaded": report.loaded,
                "duplicates": report.duplicates,
                "quarantined": report.quarantined,
            }
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.update({"scale": scale, "out_dir": None, "imports": imports})
    return result
