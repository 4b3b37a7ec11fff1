"""Shared fixtures: a fresh LIVELOOP_HOME and warehouse per test, real data sets from LIVELOOP_DATA_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.privacy.crypto import generate_key
from liveloop.warehouse import Warehouse


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An isolated LIVELOOP_HOME with its own secret key."""
    home = tmp_path / "home"
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", generate_key())
    return Settings.from_env()


@pytest.fixture
def wh(settings: Settings) -> Iterator[Warehouse]:
    """A real DuckDB warehouse file in a temporary LIVELOOP_HOME."""
    warehouse = Warehouse.open(settings)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The real public data sets. Missing data fails the test: it is never skipped silently."""
    path = Path(os.environ.get("LIVELOOP_DATA_HOME", "../shared/data"))
    if not path.is_dir():
        pytest.fail(f"LIVELOOP_DATA_HOME={path} is not a directory: the real data sets are required")
    return path
