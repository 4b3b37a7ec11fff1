"""Same seed, byte-identical files; another seed, another world."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liveloop.datasets.simulator import TABLES, TRUTH_TABLES, SimConfig, simulate_to_dir


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    cfg = SimConfig.preset("tiny", seed=3)
    a = simulate_to_dir(tmp_path / "a", cfg)
    simulate_to_dir(tmp_path / "b", cfg)
    assert a["events"] > 1000
    da, db = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(da) == 17  # 10 tables, 5 truth tables, world.json, README.txt
    assert da == db


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    simulate_to_dir(tmp_path / "a", SimConfig.preset("tiny", seed=3))
    simulate_to_dir(tmp_path / "b", SimConfig.preset("tiny", seed=4))
    da, db = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert da["events.parquet"] != db["events.parquet"]


@pytest.mark.parametrize(("users", "days", "seed"), [(10, 1, 0), (10, 5, 2), (12, 2, 3), (40, 9, 4)])
def test_degenerate_worlds_still_write_every_table(tmp_path: Path, users: int, days: int, seed: int) -> None:
    summary = simulate_to_dir(tmp_path, SimConfig.preset("tiny", users=users, days=days, seed=seed))
    assert summary["users"] == users and summary["days"] == days
    assert {p.name for p in tmp_path.glob("*.parquet")} == {f"{t}.parquet" for t in TABLES}
    assert {p.name for p in (tmp_path / "truth").glob("*.parquet")} == {f"{t}.parquet" for t in TRUTH_TABLES}
    for name in ("events", "orders", "order_items", "comments", "live_sessions"):
        table = pq.read_table(tmp_path / f"{name}.parquet")
        assert not any(pa.types.is_null(f.type) for f in table.schema), name
