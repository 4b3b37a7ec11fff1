"""What is in the warehouse: row counts, date ranges, quarantine counts."""

from __future__ import annotations

from typing import Any

from liveloop.warehouse.store import TABLE_TIME, Warehouse


def warehouse_status(wh: Warehouse) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table in wh.tables():
        entry: dict[str, Any] = {"rows": int(wh.sql(f'SELECT count(*) FROM "{table}"')[0][0])}
        col = TABLE_TIME.get(table)
        if col:
            lo, hi = wh.sql(f'SELECT min("{col}"), max("{col}") FROM "{table}"')[0]
            entry["from"] = lo.isoformat() if lo else None
            entry["to"] = hi.isoformat() if hi else None
        tables[table] = entry
    quarantine = {
        reason: int(n)
        for reason, n in wh.sql(
            "SELECT split_part(reason, ':', 1) AS r, count(*) FROM quarantine WHERE status = 'open' "
            "GROUP BY r ORDER BY 2 DESC"
        )
    }
    return {
        "path": str(wh.path),
        "schema_version": wh.schema_version(),
        "tables": tables,
        "quarantine_open": sum(quarantine.values()),
        "quarantine_by_reason": quarantine,
    }
