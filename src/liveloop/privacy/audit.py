"""The audit trail: the one writer of ``audit_log`` (who decided what about whom, and why)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from liveloop.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One decision: ``details`` is any JSON-serialisable value (or an already encoded JSON string)."""

    actor: str | None
    action: str
    subject: str | None = None
    decision: str | None = None
    reason: str | None = None
    details: Any = None
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))

    def details_json(self) -> str | None:
        if self.details is None or isinstance(self.details, str):
            return self.details
        return json.dumps(self.details, ensure_ascii=False, default=str)


def write(
    wh: Warehouse, entries: Sequence[AuditEntry], *, con: duckdb.DuckDBPyConnection | None = None
) -> int:
    """Append entries in one columnar insert; with ``con`` it joins the caller's transaction."""
    if not entries:
        return 0
    table = pa.table(
        {
            "ts": pa.array([e.ts for e in entries], pa.timestamp("us", tz="UTC")),
            "actor": [e.actor for e in entries],
            "action": [e.action for e in entries],
            "subject": [e.subject for e in entries],
            "decision": [e.decision for e in entries],
            "reason": [e.reason for e in entries],
            "details": [e.details_json() for e in entries],
        }
    )
    return wh.append("audit_log", table, con=con)


def record(wh: Warehouse, entry: AuditEntry, *, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Append one entry."""
    write(wh, [entry], con=con)


def details_of(wh: Warehouse, action: str) -> list[Any]:
    """The decoded ``details`` of every entry with this action, oldest first."""
    rows = wh.sql("SELECT details FROM audit_log WHERE action = ? ORDER BY audit_id", [action])
    return [json.loads(d) if isinstance(d, str) else d for (d,) in rows if d is not None]
