"""A small simulated world written once per test session (a few seconds), shared by the simulator tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from liveloop.datasets.simulator import SimConfig, simulate_to_dir

Query = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo ("small") preset generated to Parquet: its summary, directory and config."""
    out = tmp_path_factory.mktemp("sim-small")
    cfg = SimConfig.preset("small", seed=11)
    return {"summary": simulate_to_dir(out, cfg), "dir": out, "cfg": cfg}


@pytest.fixture(scope="session")
def sq(small_world: dict[str, Any]) -> Query:
    """SQL over the small world: ``{events}`` etc. name its tables, ``{truth_users_truth}`` its truth."""
    root = small_world["dir"]
    names = {p.stem: f"read_parquet('{p}')" for p in root.glob("*.parquet")}
    names.update({f"truth_{p.stem}": f"read_parquet('{p}')" for p in (root / "truth").glob("*.parquet")})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return lambda sql: con.sql(sql.format(**names)).fetchall()
