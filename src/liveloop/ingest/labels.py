"""The label mapping table: raw labels (any case, e.g. 上海市, SH) → canonical ones, applied on import."""

from __future__ import annotations

from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.ingest.engine import forget_labels
from liveloop.ingest.schema import CHANNELS, EVENT_TYPES, GENDERS
from liveloop.warehouse import Warehouse

#: kind → allowed canonical values (None: free text).
LABEL_KINDS: dict[str, tuple[str, ...] | None] = {
    "category": None,
    "region": None,
    "event_type": EVENT_TYPES,
    "channel": CHANNELS,
    "gender": GENDERS,
}


def add_label(wh: Warehouse, kind: str, raw: str, canonical: str) -> dict[str, str]:
    """Map ``raw`` to ``canonical`` for ``kind`` (replacing an earlier mapping of the same raw label)."""
    if kind not in LABEL_KINDS:
        raise ValidationFailed(f"unknown label kind {kind!r}: one of {', '.join(LABEL_KINDS)}", field="kind")
    raw_key, canon = raw.strip().lower(), canonical.strip()
    if not raw_key or not canon:
        raise ValidationFailed(
            "raw and canonical labels must not be empty", field="raw" if not raw_key else "canonical"
        )
    allowed = LABEL_KINDS[kind]
    if allowed is not None and canon not in allowed:
        raise ValidationFailed(f"{canon!r} is not a {kind}: one of {', '.join(allowed)}", field="canonical")
    wh.sql(
        "INSERT INTO label_map (kind, raw, canonical) VALUES (?, ?, ?) "
        "ON CONFLICT (kind, raw) DO UPDATE SET canonical = excluded.canonical",
        [kind, raw_key, canon],
    )
    forget_labels(wh)
    return {"kind": kind, "raw": raw_key, "canonical": canon}


def list_labels(wh: Warehouse, kind: str | None = None) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT kind, raw, canonical FROM label_map WHERE ? IS NULL OR kind = ? ORDER BY kind, raw",
        [kind, kind],
    )
    return [{"kind": k, "raw": r, "canonical": c} for k, r, c in rows]
