"""Retention: how long each table keeps its rows (PIPL art. 19: no longer than the purpose needs),
applied by a scheduled job that deletes what is older and says how much.

Policies are rows of ``retention_policies`` (table, days); a table without one keeps everything. The
audit log keeps at least three years (decisions must stay explainable and auditable); orders are
financial records and are not subject to these policies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.core.periodic import Periodic
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse

#: Table -> the column that dates its rows, for every table a policy may cover.
RETAINABLE = {
    "events": "ts",
    "comments": "ts",
    "messages": "created_at",
    "quarantine": "created_at",
    "live_minutes": "minute",
    "live_alerts": "ts",
    "audit_log": "ts",
}
MIN_DAYS = {"audit_log": 3 * 365}
MAX_DAYS = 100 * 365


def set_policy(wh: Warehouse, table: str, days: int | None, *, actor: str | None) -> list[dict[str, Any]]:
    """Keep ``table``'s rows ``days`` days (None: keep everything); returns every policy."""
    if table not in RETAINABLE:
        raise ValidationFailed(
            f"{table!r} has no retention policy: one of {', '.join(sorted(RETAINABLE))}", field="table"
        )
    if days is not None:
        least = MIN_DAYS.get(table, 1)
        if isinstance(days, bool) or not isinstance(days, int) or not least <= days <= MAX_DAYS:
            raise ValidationFailed(
                f"days for {table} must be a whole number from {least} to {MAX_DAYS}", field="days"
            )
    with wh.transaction() as con:
        con.execute("DELETE FROM retention_policies WHERE table_name = ?", [table])
        if days is not None:
            con.execute(
                "INSERT INTO retention_policies (table_name, days, updated_by) VALUES (?, ?, ?)",
                [table, days, actor],
            )
        audit.record(
            wh,
            AuditEntry(actor, "retention.policy", f"table:{table}", str(days) if days else "keep", None),
            con=con,
        )
    return policies(wh)


def policies(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.sql("SELECT table_name, days, updated_at, updated_by FROM retention_policies ORDER BY 1")
    return [dict(zip(("table", "days", "updated_at", "updated_by"), r, strict=True)) for r in rows]


def apply(
    wh: Warehouse, *, now: datetime | None = None, dry_run: bool = False, actor: str | None = None
) -> dict[str, Any]:
    """Delete every row older than its table's policy (count only, with ``dry_run``); audited."""
    now = now or datetime.now(UTC)
    result: dict[str, Any] = {"at": now, "dry_run": dry_run, "tables": {}}
    with wh.transaction() as con:
        for p in policies(wh):
            column = RETAINABLE[p["table"]]
            cutoff = now - timedelta(days=p["days"])
            where = f'"{column}" < ?'
            n = con.execute(f'SELECT count(*) FROM "{p["table"]}" WHERE {where}', [cutoff]).fetchall()[0][0]
            if n and not dry_run:
                con.execute(f'DELETE FROM "{p["table"]}" WHERE {where}', [cutoff])
            result["tables"][p["table"]] = {"days": p["days"], "before": cutoff, "deleted": int(n)}
        if not dry_run:
            counts = {t: v["deleted"] for t, v in result["tables"].items()}
            audit.record(wh, AuditEntry(actor, "retention.apply", None, "applied", None, counts), con=con)
    result["deleted"] = sum(v["deleted"] for v in result["tables"].values())
    return result


class RetentionSchedule(Periodic):
    """Applies the policies every ``every_s`` seconds on a daemon thread; ``last`` is the latest result."""

    def __init__(self, wh: Warehouse, every_s: float):
        self.wh = wh
        super().__init__(lambda: apply(wh, actor="schedule"), every_s, "retention")
