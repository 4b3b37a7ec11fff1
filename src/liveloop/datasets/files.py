"""Locating public data-set files under LIVELOOP_DATA_HOME, with a clear error when one is absent."""

from __future__ import annotations

from pathlib import Path

from liveloop.core.config import Settings


def data_file(dataset: str, filename: str, settings: Settings | None = None) -> Path:
    """The path of ``filename`` in data set ``dataset``; DataMissing names what, where, origin."""
    from liveloop.datasets.registry import file_path

    return file_path(dataset, filename, settings)
