"""Live sessions in the warehouse: registering the ones the copilot runs, listing them, reading a
finished one back (its summary, minutes, questions and alerts) for the Live Monitor and the CLI."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from liveloop.core.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

STATUSES = ("live", "ended", "scheduled", "all")
MAX_LIMIT = 500


def register(wh: Warehouse, session_id: str, lineup: list[str]) -> None:
    """A ``live_sessions`` row for a session the copilot opens that the warehouse does not know yet."""
    wh.sql(
        "INSERT OR IGNORE INTO live_sessions (session_id, start_ts, lineup, source) "
        "VALUES (?, now(), ?, 'live')",
        [session_id, lineup],
    )


def mark_ended(wh: Warehouse, session_id: str) -> None:
    """Set the end time of a session the copilot registered (imported sessions keep their own)."""
    wh.sql(
        "UPDATE live_sessions SET end_ts = now(), updated_at = now() "
        "WHERE session_id = ? AND source = 'live' AND end_ts IS NULL",
        [session_id],
    )


def _status(row: dict[str, Any], live: Collection[str], now: datetime) -> str:
    if row["session_id"] in live:
        return "live"
    if row["has_summary"] or (row["end_ts"] is not None and row["end_ts"] <= now):
        return "ended"
    if row["start_ts"] is not None and row["start_ts"] > now:
        return "scheduled"
    return "ended" if row["end_ts"] is not None else "open"


def list_sessions(
    wh: Warehouse,
    *,
    live: Collection[str] = (),
    status: str = "all",
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Sessions newest first (those live now first, then those with a copilot summary, then the rest),
    each with its headline figures when the copilot ran it; ``total`` counts the filtered sessions."""
    if status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must be >= 0", field="offset")
    rows = wh.sql(
        "SELECT s.session_id, s.title, s.host_id, s.start_ts, s.end_ts, s.source, m.summary IS NOT NULL, "
        "m.ended_at, json_extract(m.summary, '$.gmv')::DOUBLE, "
        "json_extract(m.summary, '$.comments')::BIGINT, "
        "json_extract(m.summary, '$.peak_viewers')::BIGINT, len(s.lineup) "
        "FROM live_sessions s LEFT JOIN live_summaries m USING (session_id) "
        "ORDER BY list_contains(?::VARCHAR[], s.session_id) DESC, m.ended_at DESC NULLS LAST, "
        "s.start_ts DESC NULLS LAST, s.session_id",
        [list(live)],
    )
    now = datetime.now(UTC)
    names = (
        "session_id", "title", "host_id", "start_ts", "end_ts", "source", "has_summary", "ended_at",
        "gmv", "comments", "peak_viewers", "products",
    )  # fmt: skip
    items = [dict(zip(names, r, strict=True)) for r in rows]
    for item in items:
        item["status"] = _status(item, live, now)
    if status != "all":
        items = [i for i in items if i["status"] == status]
    return {"total": len(items), "limit": limit, "offset": offset, "items": items[offset : offset + limit]}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def finished(wh: Warehouse, session_id: str) -> dict[str, Any]:
    """A finished session as the copilot kept it: summary, per-minute rows, question groups, alerts."""
    found = wh.sql("SELECT summary FROM live_summaries WHERE session_id = ?", [session_id])
    if not found:
        raise NotFound(f"no finished live session {session_id!r} in the warehouse", field="session_id")

    def rows(table: str, order: str) -> list[dict[str, Any]]:
        return list(
            wh.arrow(
                f"SELECT * EXCLUDE (session_id) FROM {table} WHERE session_id = ? ORDER BY {order}",
                [session_id],
            ).to_pylist()
        )

    draws = rows("live_draws", "ts")
    return {
        "session_id": session_id,
        "summary": _json(found[0][0]),
        "minutes": rows("live_minutes", "minute"),
        "questions": rows("live_questions", "askers DESC, asks DESC, last_ts DESC LIMIT 50"),
        "alerts": rows("live_alerts", "ts"),
        "draws": [{**d, "winners": _json(d["winners"]), "rules": _json(d["rules"])} for d in draws],
    }
