"""The bigger presets: their documented sizes, and a scaled-down medium run that streams day by day in
memory that does not grow with the number of days (what lets the large preset run in bounded memory)."""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from liveloop.datasets.simulator import TABLES, SimConfig, simulate_to_dir


@pytest.mark.parametrize(
    ("scale", "users", "days", "products", "hosts"),
    [("small", 2_000, 21, 300, 8), ("medium", 30_000, 45, 3_000, 40), ("large", 66_000, 60, 10_000, 120)],
)
def test_presets_match_the_documented_sizes(
    scale: str, users: int, days: int, products: int, hosts: int
) -> None:
    cfg = SimConfig.preset(scale, seed=1)
    assert (cfg.users, cfg.days, cfg.products, cfg.hosts) == (users, days, products, hosts)
    assert (date(2026, 11, 11) - cfg.start).days == (2 * days) // 3  # 11.11 two thirds into the window
    assert cfg.chunk_days == 1


def _run(out: Path, days: int) -> tuple[dict, int]:
    cfg = SimConfig.preset("medium", users=3_000, days=days, seed=1)
    tracemalloc.start()
    try:
        summary = simulate_to_dir(out, cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return summary, peak


def test_scaled_down_medium_streams_in_memory_bounded_by_a_day(tmp_path: Path) -> None:
    short, short_peak = _run(tmp_path / "short", 2)
    long, long_peak = _run(tmp_path / "long", 8)
    # products and hosts shrink with the square root of the user count (10% of the users here)
    assert (long["users"], long["products"], long["hosts"]) == (3_000, 948, 12)
    assert long["events"] > 2 * short["events"] > 80_000
    # four times the days, not more memory: only a day is held at once (Python + NumPy allocations)
    assert long_peak < 1.25 * short_peak, (long_peak, short_peak)
    events = pq.ParquetFile(tmp_path / "long" / "events.parquet")
    assert events.metadata.num_rows == long["events"]
    assert {p.stem for p in (tmp_path / "long").glob("*.parquet")} == set(TABLES)
    # per user and day, the medium world is as busy as the demo one
    per_user_day = long["events"] / (long["users"] * long["days"])
    assert 2 < per_user_day < 12
