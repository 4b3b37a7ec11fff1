"""The audit trail: the one writer of ``audit_log`` (who decided what about whom, and why)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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


# -- explanations (PIPL art. 24: a person may ask why an automated decision about them was made) -----
#: ``fn(user_id, decision, reason, details, lang) -> text``, one per action, registered by the capability
#: that decides (the lower floor never imports it).
Explainer = Callable[[str, str | None, str | None, Any, str], str]
_EXPLAINERS: dict[str, Explainer] = {}
_NAMED_IN_DETAILS: set[str] = set()  # actions whose details name the users concerned (a draw's winners)
MAX_DECISIONS = 500


def register_explainer(action: str, explain: Explainer, *, names_users_in_details: bool = False) -> None:
    """Say how decisions of ``action`` read to the person they concern."""
    _EXPLAINERS[action] = explain
    if names_users_in_details:
        _NAMED_IN_DETAILS.add(action)


def _generic(_user: str, decision: str | None, reason: str | None, _details: Any, lang: str) -> str:
    parts = [p for p in (decision, reason) if p]
    return ("：" if lang == "zh" else ": ").join(parts) or "—"


def decisions(wh: Warehouse, user_id: str, *, lang: str = "zh", limit: int = 100) -> list[dict[str, Any]]:
    """The decisions recorded about ``user_id`` (or naming them, as a lottery draw does), newest first,
    each explained in ``lang`` (zh or en)."""
    limit = max(1, min(int(limit), MAX_DECISIONS))
    named = sorted(_NAMED_IN_DETAILS) or [""]
    rows = wh.sql(
        "SELECT audit_id, ts, actor, action, subject, decision, reason, CAST(details AS VARCHAR) "
        "FROM audit_log WHERE subject IN (?, ?) OR (list_contains(?, action) "
        "AND contains(CAST(details AS VARCHAR), ?)) ORDER BY ts DESC, audit_id DESC LIMIT ?",
        [user_id, f"users:{user_id}", named, json.dumps(user_id, ensure_ascii=False), limit],
    )
    return [
        {
            "audit_id": audit_id,
            "ts": ts,
            "action": action,
            "by": actor,
            "subject": subject,
            "decision": decision,
            "explanation": _EXPLAINERS.get(action, _generic)(
                user_id, decision, reason, json.loads(raw) if raw else None, lang
            ),
        }
        for audit_id, ts, actor, action, subject, decision, reason, raw in rows
    ]


register_explainer(
    "pii.reveal",
    lambda _u, _d, _r, _x, lang: (
        "管理员查看了你的明文个人信息" if lang == "zh" else "an admin viewed your data"
    ),
)
