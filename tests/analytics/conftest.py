"""The analytics tests' simulated world (small preset, 300 users, 5 days), built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    wh = Warehouse.open(Settings(home=tmp_path_factory.mktemp("analytics-world"), data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
    yield wh
    wh.close()
