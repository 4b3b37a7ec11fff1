"""The risk review queue: findings become flags in ``risk_flags`` (once each), reviewers confirm or
dismiss them, and every account or item a flag names sits in ``risk_flag_members``.

A flag's ``evidence`` holds only the rule and its numbers; the accounts, comments, orders and events it
names are rows of ``risk_flag_members``, each with its ``user_id``. Erasing a user therefore removes
them from every flag (a table with a ``user_id`` column is erased row by row), and a flag whose subject
is a user carries that id in its own ``user_id`` column, so it goes with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import is_valid_id, new_id
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse

#: What each kind of flag is about.
KINDS: dict[str, str] = {
    "comment_burst": "near-identical comments from many accounts within seconds (刷评论)",
    "new_account_comments": "comments from accounts created shortly before, far above the room's rate",
    "synced_joins": "many accounts entering a room within seconds",
    "like_spike": "likes per minute far above the room's baseline, from accounts that do little else",
    "gift_spike": "gift senders per minute far above the room's baseline",
    "linked_accounts": "accounts linked by a shared device, address, phone or same-second orders, "
    "redeeming coupons together (羊毛党)",
    "refund_abuse": "a user's refund rate far above the base rate of what they bought",
    "kpi_drop": "a KPI far below its expected value for the hour or day",
}
STATUSES = ("open", "confirmed", "dismissed")
REVIEW_STATUSES = ("confirmed", "dismissed", "open")
SUBJECT_TYPES = ("session", "user", "ring", "kpi")
ITEM_TYPES = ("account", "comment", "order", "event")
MAX_LIMIT = 500


@dataclass
class Member:
    """An account a flag names, or one of its comments, orders or events."""

    user_id: str
    item_type: str
    item_id: str
    ts: datetime | None = None
    detail: str | None = None


@dataclass
class Finding:
    """What a detector found: the rule's numbers in ``evidence``; ``key`` tells one finding from another
    of the same kind and subject (a burst's start, a ring's first order)."""

    kind: str
    subject_type: str
    subject: str
    score: float
    evidence: dict[str, Any]
    key: str = ""
    session_id: str | None = None
    user_id: str | None = None
    members: list[Member] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return f"{self.kind}|{self.subject_type}|{self.subject}|{self.key}"

    def accounts(self) -> set[str]:
        return {m.user_id for m in self.members if m.item_type == "account"}

    def items(self, item_type: str) -> set[str]:
        return {m.item_id for m in self.members if m.item_type == item_type}


@contextmanager
def registered(wh: Warehouse, name: str, table: pa.Table) -> Iterator[None]:
    """``table`` visible to SQL as ``name`` while the block runs (under the warehouse lock)."""
    with wh.exclusive():
        wh.con.register(name, table)
        try:
            yield
        finally:
            wh.con.unregister(name)


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"unknown risk kind {kind!r}; known: {', '.join(KINDS)}", field="kind")


def check_status(status: str | None, allowed: tuple[str, ...] = STATUSES) -> None:
    if status is not None and status not in allowed:
        raise ValidationFailed(f"unknown status {status!r}; use one of {', '.join(allowed)}", field="status")


def _seen_before(con: Any, finding: Finding) -> bool:
    """The finding was flagged under another key: half or more of its accounts are in one flag of its
    kind about the same subject (for rings, any ring), e.g. a burst whose window moved as comments came in."""
    accounts = sorted(finding.accounts())
    if not accounts:
        return False
    same_subject = "" if finding.subject_type == "ring" else "AND f.subject = ? "
    rows = con.execute(
        "SELECT m.flag_id, count(*) FROM risk_flag_members m JOIN risk_flags f USING (flag_id) "
        f"WHERE f.kind = ? {same_subject}AND m.item_type = 'account' AND list_contains(?, m.user_id) "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        [finding.kind, *([] if finding.subject_type == "ring" else [finding.subject]), accounts],
    ).fetchall()
    return bool(rows) and 2 * int(rows[0][1]) >= len(accounts)


def _tables(fresh: list[Finding], ids: list[str]) -> tuple[pa.Table, pa.Table]:
    now = datetime.now(UTC)
    flags = pa.table(
        {
            "flag_id": ids,
            "kind": [f.kind for f in fresh],
            "subject_type": [f.subject_type for f in fresh],
            "subject": [f.subject for f in fresh],
            "user_id": pa.array([f.user_id for f in fresh], pa.string()),
            "session_id": pa.array([f.session_id for f in fresh], pa.string()),
            "score": pa.array([float(f.score) for f in fresh], pa.float64()),
            "evidence": [json.dumps(f.evidence, ensure_ascii=False, default=str) for f in fresh],
            "fingerprint": [f.fingerprint for f in fresh],
            "status": ["open"] * len(fresh),
            "created_at": pa.array([now] * len(fresh), pa.timestamp("us", tz="UTC")),
        }
    )
    rows = list(
        {
            (i, m.item_type, m.item_id): (i, m) for f, i in zip(fresh, ids, strict=True) for m in f.members
        }.values()
    )
    members = pa.table(
        {
            "flag_id": pa.array([fid for fid, _ in rows], pa.string()),
            "user_id": pa.array([m.user_id for _, m in rows], pa.string()),
            "item_type": pa.array([m.item_type for _, m in rows], pa.string()),
            "item_id": pa.array([m.item_id for _, m in rows], pa.string()),
            "ts": pa.array([m.ts for _, m in rows], pa.timestamp("us", tz="UTC")),
            "detail": pa.array([m.detail for _, m in rows], pa.string()),
        }
    )
    return flags, members


def write_findings(wh: Warehouse, findings: list[Finding]) -> dict[str, Any]:
    """Store the findings not flagged before (the same fingerprint, or mostly the same accounts about the
    same subject), in one transaction; returns ``{"found", "new", "flag_ids"}`` with the new flags' ids.

    A flag's id is random: the fingerprint (which may hold a user id) lives only in the flag's row, so
    once an erasure deletes that row nothing derived from the id is left, not even in the audit log."""
    fresh: list[Finding] = []
    if not findings:
        return {"found": 0, "new": 0, "flag_ids": []}
    with wh.transaction() as con:
        prints = sorted({f.fingerprint for f in findings})
        known = {
            r[0]
            for r in con.execute(
                "SELECT fingerprint FROM risk_flags WHERE list_contains(?, fingerprint)", [prints]
            ).fetchall()
        }
        for f in findings:
            if f.fingerprint in known or _seen_before(con, f):
                continue
            known.add(f.fingerprint)
            fresh.append(f)
        ids = [new_id("rf") for _ in fresh]
        if fresh:
            flags, members = _tables(fresh, ids)
            wh.append("risk_flags", flags, con=con)
            wh.append("risk_flag_members", members, con=con)
    return {"found": len(findings), "new": len(fresh), "flag_ids": ids}


_COLUMNS = (
    "flag_id", "kind", "subject_type", "subject", "user_id", "session_id", "score", "evidence", "status",
    "created_at", "reviewed_by", "reviewed_at", "review_note",
)  # fmt: skip


def _flag(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row, strict=True))
    out["evidence"] = json.loads(out["evidence"]) if isinstance(out["evidence"], str) else out["evidence"]
    for col in ("created_at", "reviewed_at"):
        if out[col] is not None:
            out[col] = out[col].isoformat()
    out["kind_description"] = KINDS.get(out["kind"])
    return out


def list_flags(
    wh: Warehouse,
    *,
    kind: str | None = None,
    status: str | None = None,
    session_id: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Flags, strongest first within the newest scan: ``{"total", "limit", "offset", "flags": [...]}``;
    each flag with ``accounts`` (how many accounts it names)."""
    check_kind(kind)
    check_status(status)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1 to {MAX_LIMIT}, not {limit}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must not be negative", field="offset")
    conds, params = [], []
    for col, value in (("kind", kind), ("status", status), ("session_id", session_id), ("subject", subject)):
        if value is not None:
            conds.append(f"f.{col} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    total = wh.sql(f"SELECT count(*) FROM risk_flags f {where}", params)[0][0]
    cols = ", ".join(f"f.{c}" for c in _COLUMNS)
    rows = wh.sql(
        f"SELECT {cols}, (SELECT count(*) FROM risk_flag_members m WHERE m.flag_id = f.flag_id "
        f"AND m.item_type = 'account') FROM risk_flags f {where} "
        "ORDER BY f.created_at DESC, f.score DESC, f.flag_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    flags = [_flag(r[:-1]) | {"accounts": int(r[-1])} for r in rows]
    return {"total": int(total), "limit": limit, "offset": offset, "flags": flags}


def get_flag(wh: Warehouse, flag_id: str, *, examples: int = 20) -> dict[str, Any]:
    """One flag with the accounts it names and up to ``examples`` of each kind of item (comments,
    orders, events), oldest first. NotFound (field ``flag_id``) when there is no such flag."""
    rows = wh.sql(f"SELECT {', '.join(_COLUMNS)} FROM risk_flags WHERE flag_id = ?", [flag_id])
    if not rows:
        raise NotFound(f"no risk flag {flag_id!r}", field="flag_id")
    out = _flag(rows[0])
    members = wh.sql(
        "SELECT item_type, user_id, item_id, ts, detail FROM ("
        "SELECT *, row_number() OVER (PARTITION BY item_type ORDER BY ts NULLS LAST, item_id) AS n "
        "FROM risk_flag_members WHERE flag_id = ?) WHERE item_type = 'account' OR n <= ? "
        "ORDER BY item_type, ts NULLS LAST, item_id",
        [flag_id, examples],
    )
    out["members"] = {t: [] for t in ITEM_TYPES}
    for item_type, user_id, item_id, ts, detail in members:
        out["members"].setdefault(item_type, []).append(
            {"user_id": user_id, "item_id": item_id, "ts": ts.isoformat() if ts else None, "detail": detail}
        )
    return out


def review_flag(
    wh: Warehouse, flag_id: str, status: str, *, reviewer: str, note: str | None = None
) -> dict[str, Any]:
    """Confirm or dismiss a flag (``open`` reopens it), recording who and when; audited. Returns the flag."""
    check_status(status, REVIEW_STATUSES)
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 200:
        raise ValidationFailed("name the reviewer (1 to 200 characters)", field="reviewed_by")
    if not isinstance(flag_id, str) or not is_valid_id(flag_id):
        raise ValidationFailed(f"{flag_id!r} is not a flag id", field="flag_id")
    if note is not None and len(note) > 2000:
        raise ValidationFailed("a review note has at most 2,000 characters", field="note")
    reopened = status == "open"
    with wh.transaction() as con:
        found = con.execute("SELECT status, kind FROM risk_flags WHERE flag_id = ?", [flag_id]).fetchall()
        if not found:
            raise NotFound(f"no risk flag {flag_id!r}", field="flag_id")
        con.execute(
            "UPDATE risk_flags SET status = ?, reviewed_by = ?, reviewed_at = ?, review_note = ? "
            "WHERE flag_id = ?",
            [
                status,
                None if reopened else reviewer.strip(),
                None if reopened else datetime.now(UTC),
                note,
                flag_id,
            ],
        )
        audit.record(
            wh,
            AuditEntry(
                reviewer.strip(),
                "risk.review",
                f"risk_flags:{flag_id}",
                status,
                note,
                {"kind": found[0][1], "from": found[0][0]},
            ),
            con=con,
        )
    return get_flag(wh, flag_id, examples=0)
