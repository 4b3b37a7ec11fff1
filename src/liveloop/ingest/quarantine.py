"""The quarantine: list and inspect rejected rows, and retry them after fixing the cause.

A retry reads each row's raw source values back through the same adapter feed and validation (with
today's label mappings and, if asked, without the data set's time window). Rows that now pass are
loaded (or found to be duplicates) and marked ``resolved``; the others keep their updated reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from liveloop.core.crypto import reveal_raw
from liveloop.core.errors import LiveloopError, NotFound
from liveloop.ingest.adapters import ADAPTERS
from liveloop.ingest.adapters.base import Feed
from liveloop.ingest.adapters.native import native_target
from liveloop.ingest.engine import Context, make_options, run_chunks
from liveloop.ingest.readers import Chunk, records_table
from liveloop.ingest.report import ImportReport
from liveloop.ingest.validate import Target
from liveloop.warehouse import Warehouse, first_row

_COLS = "quarantine_id, import_id, target_table, source, line, reason, field, status, created_at, feed"


def list_quarantine(
    wh: Warehouse, *, status: str | None = "open", table: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Quarantined rows, newest first (without their raw values)."""
    where, params = _filters(status, table)
    rows = wh.con.execute(
        f"SELECT {_COLS} FROM quarantine {where} ORDER BY quarantine_id DESC LIMIT ? OFFSET ?",
        [*params, max(1, min(limit, 10_000)), max(0, offset)],
    )
    names = [d[0] for d in rows.description or []]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]


def quarantine_summary(wh: Warehouse) -> list[dict[str, Any]]:
    """Open quarantined rows counted by table and reason code."""
    rows = wh.sql(
        "SELECT target_table, split_part(reason, ':', 1) AS code, count(*) FROM quarantine "
        "WHERE status = 'open' GROUP BY ALL ORDER BY 3 DESC"
    )
    return [{"table": t, "reason": c, "rows": int(n)} for t, c, n in rows]


def show_quarantine(wh: Warehouse, quarantine_id: int) -> dict[str, Any]:
    """One quarantined row with its raw source values (decrypted for tables holding PII)."""
    rows = wh.con.execute(f"SELECT {_COLS}, raw FROM quarantine WHERE quarantine_id = ?", [quarantine_id])
    names = [d[0] for d in rows.description or []]
    row = first_row(rows)
    if row is None:
        raise NotFound(f"no quarantined row {quarantine_id}", field="quarantine_id")
    out = dict(zip(names, row, strict=True))
    if isinstance(out["raw"], str) and out["raw"].startswith("enc:"):
        out["raw"] = reveal_raw(out["raw"], _cipher())
    return out


def retry_quarantine(
    wh: Warehouse, ids: list[int] | None = None, *, keep_out_of_range: bool = False
) -> ImportReport:
    """Re-validate open quarantined rows (``ids``, or all when None); returns the balanced report."""
    if ids is not None and not ids:
        raise LiveloopError("name the quarantined rows to retry, or retry all", field="ids")
    where = "WHERE q.status = 'open'" + (
        " AND q.quarantine_id IN (SELECT unnest(?::BIGINT[]))" if ids else ""
    )
    rows = wh.con.execute(
        "SELECT q.quarantine_id, q.target_table, q.source, q.feed, q.raw, i.report "
        f"FROM quarantine q LEFT JOIN imports i USING (import_id) {where} ORDER BY q.quarantine_id",
        [ids] if ids else [],
    ).fetchall()
    if ids and len(rows) < len(set(ids)):
        found = {r[0] for r in rows}
        missing = sorted(set(ids) - found)
        raise NotFound(f"no open quarantined row {missing[0]}", field="ids")
    report = ImportReport(import_id="", source="quarantine", adapter="retry")
    groups: dict[tuple[str, str, str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    cipher = None
    for qid, table, source, feed, raw, imp in rows:
        if isinstance(raw, str) and raw.startswith("enc:"):
            cipher = cipher or _cipher()
            raw = reveal_raw(raw, cipher)
        values = _parse_raw(raw)
        opts = (json.loads(imp).get("options") or {}) if imp else {}
        if values is None or not feed:
            report.rows_read += 1
            report.quarantined += 1
            report.by_reason["not_retryable"] += 1
            continue
        key = (feed, table, source, json.dumps(opts, sort_keys=True))
        groups[key].append((qid, values))
    for (feed_key, table, source, opts_json), items in groups.items():
        opts = json.loads(opts_json)
        columns = sorted({k for _, v in items for k in v})
        targets = _targets(feed_key, table, columns)
        data = records_table([v for _, v in items], columns, [q for q, _ in items])
        ctx = Context(
            wh,
            report,
            source=source,
            tag=source if feed_key.startswith("native/") else feed_key.split("/")[0],
            feed=feed_key,
            opt=make_options(wh, opts.get("source_tz") or "UTC", opts.get("ts_unit") or "s"),
            keep_window=keep_out_of_range or bool(opts.get("keep_out_of_range")),
            retry=True,
        )
        run_chunks(ctx, [Chunk(data, [], 0, clean=True)], targets)
    return report


def _parse_raw(raw: str | None) -> dict[str, Any] | None:
    if not raw or not raw.startswith("{"):
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None  # malformed source line, or cut to size: cannot be read back
    return value if isinstance(value, dict) else None


def _targets(feed_key: str, table: str, columns: list[str]) -> list[Target]:
    adapter_name, _, feed_name = feed_key.partition("/")
    adapter = ADAPTERS.get(adapter_name)
    if adapter is None:
        raise LiveloopError(f"quarantined rows name an unknown adapter {adapter_name!r}", field="feed")
    if adapter_name == "native":
        return [native_target(feed_name.removeprefix("native:") or table, columns)]
    feed: Feed | None = next((f for f in adapter.feeds if f.name == feed_name), None)
    if feed is None:
        raise LiveloopError(f"the {adapter_name} adapter has no feed {feed_name!r}", field="feed")
    return list(feed.plan(list(feed.columns or columns), table))


def _filters(status: str | None, table: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if table:
        clauses.append("target_table = ?")
        params.append(table)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _cipher() -> Any:
    from liveloop.core.config import get_settings
    from liveloop.core.crypto import load_cipher

    return load_cipher(get_settings(), create=False)
