"""A small simulated world written once per test session (a few seconds), shared by the simulator tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd
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


@pytest.fixture(scope="session")
def small_events(small_world: dict[str, Any]) -> pd.DataFrame:
    """The small world's event log (the columns the tests read)."""
    columns = ["ts", "user_id", "type", "session_id", "product_id", "channel", "amount", "props"]
    return pd.read_parquet(small_world["dir"] / "events.parquet", columns=columns)


@pytest.fixture(scope="session")
def small_sessions(small_world: dict[str, Any]) -> pd.DataFrame:
    """Live sessions with their lineup (list of product ids) and slot count."""
    ss = pd.read_parquet(small_world["dir"] / "live_sessions.parquet")
    ss["lineup"] = ss["lineup"].map(json.loads)
    ss["n_slots"] = ss["lineup"].map(len)
    return ss
