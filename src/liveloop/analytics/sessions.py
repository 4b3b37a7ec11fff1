"""Live sessions as the Sessions page lists them: newest first, each with its KPIs (GMV, orders, viewers,
GPM, view-to-buy) and its post-live report when one was written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from liveloop.analytics.kpis import compute
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

MAX_LIMIT = 200
COLUMNS = ("gmv", "orders", "viewers", "gpm", "view_to_buy")


def session_table(
    wh: Warehouse, *, host: str | None = None, limit: int = 50, offset: int = 0, tz: str = "Asia/Shanghai"
) -> dict[str, Any]:
    """One page of sessions (of ``host`` when given) with their KPIs and newest post-live report."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must be >= 0", field="offset")
    where = "WHERE (? IS NULL OR s.host_id = ?)"
    total = wh.sql(f"SELECT count(*) FROM live_sessions s {where}", [host, host])[0][0]
    rows = wh.arrow(
        f"SELECT s.session_id, s.title, s.host_id, h.name AS host_name, s.start_ts, s.end_ts, "
        f"m.session_id IS NOT NULL AS copilot, "
        f"(SELECT r.report_id FROM reports r WHERE r.kind = 'post_live' AND r.subject = s.session_id "
        f"ORDER BY r.created_at DESC LIMIT 1) AS report_id "
        f"FROM live_sessions s LEFT JOIN hosts h USING (host_id) "
        f"LEFT JOIN live_summaries m USING (session_id) "
        f"{where} ORDER BY s.start_ts DESC NULLS LAST, s.session_id LIMIT ? OFFSET ?",
        [host, host, limit, offset],
    ).to_pylist()
    starts = [r["start_ts"] for r in rows if r["start_ts"] is not None]
    if starts:
        ends = [r["end_ts"] or r["start_ts"] for r in rows if r["start_ts"] is not None]
        lo, hi = min(starts), max(ends) + timedelta(days=1)
        per = {
            r["key"]: r
            for r in compute(wh, list(COLUMNS), "session", start=lo, end=hi, tz=tz)["rows"]
            if r["key"] is not None
        }
        for r in rows:
            r.update({m: per.get(r["session_id"], {}).get(m) for m in COLUMNS})
    return {"total": int(total), "limit": limit, "offset": offset, "items": rows}
