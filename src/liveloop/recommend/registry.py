"""Model versions: artifacts under LIVELOOP_HOME/models/recommend/<version>/, rows in ``model_versions``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liveloop.core.config import Settings
from liveloop.core.errors import NotFound
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse.artifacts import load_object, save_object

NAME = "recommend"


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def save_version(
    wh: Any,
    bundle: Any,
    *,
    version: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    window: str,
    settings: Settings | None = None,
    activate: bool = True,
) -> Path:
    """Write the artifact and its metadata, record the version and (by default) make it active."""
    models_dir = settings.models_dir if settings else Path(wh.path).parent / "models"
    folder = models_dir / NAME / version
    folder.mkdir(parents=True, exist_ok=True)
    save_object(bundle, folder / "model.pkl")
    meta = {
        "version": version,
        "metrics": metrics,
        "params": params,
        "data_window": window,
        "libraries": _library_versions(),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=str, ensure_ascii=False))
    with wh.transaction() as con:
        if activate:
            con.execute("UPDATE model_versions SET active = FALSE WHERE name = ?", [NAME])
        con.execute(
            "INSERT INTO model_versions (name, version, active, path, metrics, params, data_window) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                NAME,
                version,
                activate,
                str(folder),
                json.dumps(metrics, default=str),
                json.dumps(params, default=str),
                window,
            ],
        )
        gate = metrics.get("gate") if isinstance(metrics, dict) else None
        decision = "activated" if activate else "kept inactive"
        audit.record(
            wh, AuditEntry("recommend", "model.version", f"model:{NAME}", decision, version, gate), con=con
        )
    return folder


def _library_versions() -> dict[str, str]:
    import implicit
    import lightgbm
    import numpy
    import sklearn
    import torch

    return {m.__name__: getattr(m, "__version__", "?") for m in (implicit, lightgbm, numpy, sklearn, torch)}


def active_version(wh: Any) -> tuple[str, str] | None:
    rows = wh.sql(
        "SELECT version, path FROM model_versions WHERE name = ? AND active ORDER BY created_at DESC LIMIT 1",
        [NAME],
    )
    return (rows[0][0], rows[0][1]) if rows else None


def version_params(wh: Any, version: str) -> dict[str, Any]:
    """The training parameters recorded with ``version`` (empty when there are none)."""
    rows = wh.sql(
        "SELECT CAST(params AS VARCHAR) FROM model_versions WHERE name = ? AND version = ?", [NAME, version]
    )
    return json.loads(rows[0][0] or "{}") if rows else {}


def gate_summary(gate: dict[str, Any] | None) -> str:
    """One line on a version's activation gate: the decision and candidate vs popularity vs active."""
    if not gate:
        return "no gate (trained before it)"
    key = gate.get("metric", "ndcg@10")
    parts = [
        f"{name} {gate[name].get(key)}" for name in ("candidate", "popularity", "active") if gate.get(name)
    ]
    decision = "forced" if gate.get("forced") else "activated" if gate.get("activated") else "not activated"
    return f"{decision}: {key} " + " vs ".join(parts) if parts else f"{decision}: {gate.get('reason', '')}"


def load_bundle(path: str | Path) -> Any:
    return load_object(Path(path) / "model.pkl", object)


def list_versions(wh: Any) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT version, created_at, active, CAST(metrics AS VARCHAR), data_window FROM model_versions "
        "WHERE name = ? ORDER BY created_at DESC",
        [NAME],
    )
    out = []
    for r in rows:
        metrics = json.loads(r[3] or "{}")
        gate = metrics.get("gate")
        out.append(
            {
                "version": r[0],
                "created_at": r[1],
                "active": r[2],
                "metrics": metrics,
                "data_window": r[4],
                "gate": gate,
                "decision": gate_summary(gate),
            }
        )
    return out


def activate(wh: Any, version: str, *, actor: str | None = None) -> None:
    """Roll back (or forward) to ``version``."""
    if not wh.sql("SELECT 1 FROM model_versions WHERE name = ? AND version = ?", [NAME, version]):
        raise NotFound(f"no recommend model version {version!r}", field="version")
    with wh.transaction() as con:
        con.execute("UPDATE model_versions SET active = (version = ?) WHERE name = ?", [version, NAME])
        audit.record(wh, AuditEntry(actor, "model.version", f"model:{NAME}", "activated", version), con=con)
