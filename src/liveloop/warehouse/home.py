"""Setting up LIVELOOP_HOME: the directory, the migrated warehouse file and the PII key file (0600)."""

from __future__ import annotations

from typing import Any

from liveloop.core.config import Settings
from liveloop.core.crypto import create_key_file
from liveloop.warehouse.store import Warehouse, private_dir


def init_home(settings: Settings) -> dict[str, Any]:
    """Create what is missing (idempotent) and say what is there."""
    private_dir(settings.home)
    with Warehouse.open(settings) as wh:
        version = wh.schema_version()
    if settings.secret_key:
        key = "LIVELOOP_SECRET_KEY"
    else:
        key = "created" if create_key_file(settings.key_path) else "exists"
    return {
        "home": str(settings.home),
        "warehouse": str(settings.db_path),
        "schema_version": version,
        "key": key,
        "key_file": None if settings.secret_key else str(settings.key_path),
    }
