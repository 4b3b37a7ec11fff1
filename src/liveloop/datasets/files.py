"""Locating public data-set files under LIVELOOP_DATA_HOME, with a clear error when one is absent."""

from __future__ import annotations

from pathlib import Path

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import DataMissing


def data_file(dataset: str, filename: str, settings: Settings | None = None) -> Path:
    """The path of ``filename`` in data set ``dataset``; raises DataMissing naming what and where."""
    settings = settings or get_settings()
    path = settings.data_home / dataset / filename
    if not path.is_file():
        raise DataMissing(
            f"data set file missing: {dataset}/{filename} (looked in LIVELOOP_DATA_HOME={settings.data_home}); "
            f"see `liveloop datasets info {dataset}` for where it comes from"
        )
    return path
