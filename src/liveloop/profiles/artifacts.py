"""Profile model artifacts: files under ``LIVELOOP_HOME/models/<name>/<version>/`` with a ``meta.json``
(params, data window, held-out metrics, library versions), registered in ``model_versions``."""

from __future__ import annotations

import json
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from liveloop.warehouse import Warehouse
from liveloop.warehouse.artifacts import replace_strings

#: The models a profile build records (besides the ``profiles`` build itself).
MODEL_NAMES = ("segments", "high_value", "interest", "similar_users")
_LIBRARIES = ("duckdb", "implicit", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "torch")


@dataclass
class Artifact:
    """One model of a build: where its files are and what it reports."""

    name: str
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def new_artifact(models_dir: Path, name: str, version: str) -> Artifact:
    folder = models_dir / name / version
    folder.mkdir(parents=True, exist_ok=True)
    return Artifact(name, folder)


def write_meta(art: Artifact, version: str, window: str) -> None:
    meta = {
        "name": art.name,
        "version": version,
        "params": art.params,
        "metrics": art.metrics,
        "data_window": window,
        "libraries": library_versions(),
    }
    (art.folder / "meta.json").write_text(json.dumps(meta, indent=2, default=str, ensure_ascii=False))


def register(con: duckdb.DuckDBPyConnection, arts: list[Artifact], version: str, window: str) -> None:
    """Make ``arts`` the active versions of their models (inside the caller's transaction)."""
    for art in arts:
        con.execute("UPDATE model_versions SET active = FALSE WHERE name = ?", [art.name])
        con.execute(
            "INSERT INTO model_versions (name, version, active, path, metrics, params, data_window) "
            "VALUES (?, ?, TRUE, ?, ?, ?, ?)",
            [
                art.name,
                version,
                str(art.folder),
                json.dumps(art.metrics, default=str),
                json.dumps(art.params, default=str),
                window,
            ],
        )


def discard(arts: list[Artifact]) -> None:
    """Remove the folders of a build that failed before it was registered."""
    for art in arts:
        shutil.rmtree(art.folder, ignore_errors=True)


def active(wh: Warehouse, name: str) -> dict[str, Any] | None:
    """The active version of model ``name``: version, path, metrics, params, data window."""
    rows = wh.sql(
        "SELECT version, path, CAST(metrics AS VARCHAR), CAST(params AS VARCHAR), data_window "
        "FROM model_versions WHERE name = ? AND active ORDER BY created_at DESC LIMIT 1",
        [name],
    )
    if not rows:
        return None
    version, path, metrics, params, window = rows[0]
    return {
        "version": version,
        "path": Path(path) if path else None,
        "metrics": json.loads(metrics or "{}"),
        "params": json.loads(params or "{}"),
        "data_window": window,
    }


class ModelCache:
    """Loaded model objects by artifact path, least recently used dropped beyond ``max_models``."""

    def __init__(self, max_models: int = 4):
        self.max_models = max_models
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, path: Path, load: Callable[[Path], Any]) -> Any:
        key = str(path)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = load(path)  # outside the lock: loading a large model must not block other lookups
        with self._lock:
            self.loads += 1
            self._models[key] = model
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
        return model

    def rename(self, old: str, new: str) -> None:
        """Replace the id ``old`` by ``new`` in every loaded model (an erasure)."""
        with self._lock:
            for key, model in self._models.items():
                self._models[key] = replace_strings(model, old, new)
