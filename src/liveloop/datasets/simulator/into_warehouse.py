"""Simulate a world straight into the warehouse, through the same ingestion path as real data."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from liveloop.datasets.simulator.config import SimConfig
from liveloop.datasets.simulator.run import OPTIONAL_TABLES, TABLES, simulate_to_dir

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse


#: Tables liveloop writes itself (not importable through ``liveloop.ingest``): loaded directly, by key.
OWN_TABLES = ("coupons", "ad_spend")


def _load_own(wh: Warehouse, table: str, path: Path) -> dict[str, int]:
    """Append the rows of ``path`` whose key is not in ``table`` yet (re-running loads nothing twice)."""
    data = pq.read_table(path)
    keys = ", ".join(f'"{c}"' for c in wh.key_columns(table))
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    with wh.transaction() as con:
        con.register("_sim_rows", data)
        try:
            loaded = con.execute(
                f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _sim_rows '
                f'ANTI JOIN (SELECT {keys} FROM "{table}") USING ({keys})'
            ).fetchall()[0][0]
        finally:
            con.unregister("_sim_rows")
    return {
        "rows_read": data.num_rows,
        "loaded": loaded,
        "duplicates": data.num_rows - loaded,
        "quarantined": 0,
    }


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
    markdown_rate: float | None = None,
    media_budget: float | None = None,
    config: SimConfig | None = None,
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

    cfg = config or SimConfig.preset(
        scale, seed=seed, users=users, days=days, markdown_rate=markdown_rate, media_budget=media_budget
    )
    home = simulator_dir(wh)
    staging = home / f"staging-{seed}"
    truth = home / "truth"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(truth, ignore_errors=True)
    try:
        result = simulate_to_dir(staging, cfg, truth_dir=truth, on_day=on_day)
        imports: dict[str, dict[str, int]] = {}
        for table in TABLES + OPTIONAL_TABLES:
            if table in OPTIONAL_TABLES and not (staging / f"{table}.parquet").exists():
                continue
            if table in OWN_TABLES:
                imports[table] = _load_own(wh, table, staging / f"{table}.parquet")
                continue
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
