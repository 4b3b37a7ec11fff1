"""What the Recommendations page shows: model versions and hold-out metrics, Table 2, one user's list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liveloop.core.errors import LiveloopError
from liveloop.recommend.registry import list_versions
from liveloop.recommend.service import get_service
from liveloop.recommend.strategies import load_strategies


def page_data(wh: Any, home: Path, user_id: str | None = None, k: int = 10) -> dict[str, Any]:
    versions = list_versions(wh)
    active = next((v for v in versions if v["active"]), None)
    holdout = active["metrics"].get("holdout") if active else None
    out: dict[str, Any] = {
        "versions": versions[:10],
        "active": active,
        "holdout": holdout if isinstance(holdout, list) else [],
        "strategies": load_strategies(home),
        "user_id": user_id,
        "recommendation": None,
        "error": None,
    }
    if user_id:
        try:
            out["recommendation"] = get_service(wh).recommend(user_id, k, actor="dashboard")
        except LiveloopError as exc:
            out["error"] = exc.detail
    return out
