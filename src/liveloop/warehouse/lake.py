"""Parquet export and import of every table; events partitioned Hive-style by UTC date."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from liveloop.core.errors import LiveloopError
from liveloop.warehouse.store import Warehouse, first_row
from liveloop.warehouse.store import sql_path as _q

_NEXTVAL = r"nextval\('([^']+)'"
#: The file beside the tables that says which schema version wrote them (and each table's rows).
MANIFEST = "_liveloop.json"


def export_parquet(wh: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write each table to ``out_dir``; events as ``events/date=YYYY-MM-DD/*.parquet`` (the UTC date of ts),
    and ``_liveloop.json`` with the schema version and each table's rows.

    A new export replaces an earlier one in ``out_dir`` (stale event partitions are removed).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise LiveloopError(f"cannot export to {out_dir}: it is a file, not a directory", field="to")
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in wh.tables():
        n = int(wh.sql(f'SELECT count(*) FROM "{table}"')[0][0])
        counts[table] = n
        if table == "events":
            target = out_dir / "events"
            wh.sql(
                f"COPY (SELECT *, CAST(timezone('UTC', ts) AS DATE) AS date FROM events) TO '{_q(target)}' "
                "(FORMAT parquet, PARTITION_BY (date), OVERWRITE TRUE, FILENAME_PATTERN 'part_{i}')"
            )
        else:
            wh.sql(f"COPY \"{table}\" TO '{_q(out_dir / (table + '.parquet'))}' (FORMAT parquet)")
    manifest = {"schema_version": wh.schema_version(), "tables": counts}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    wh.sql(
        "INSERT INTO lake_exports (path) VALUES (?) ON CONFLICT (path) DO UPDATE SET exported_at = now()",
        [str(out_dir.resolve())],
    )
    return counts


def exported_lakes(wh: Warehouse) -> list[Path]:
    """The folders Parquet exports were written to that still exist."""
    return [Path(p) for (p,) in wh.sql("SELECT path FROM lake_exports ORDER BY path") if Path(p).is_dir()]


def import_parquet(wh: Warehouse, in_dir: Path) -> dict[str, dict[str, int]]:
    """Load an export back in one transaction, skipping rows whose key already exists.

    Columns the export lacks (it may come from an older liveloop) take their defaults. Returns
    per-table counts: read, loaded, duplicates.
    """
    if not in_dir.is_dir():
        raise LiveloopError(f"not a directory: {in_dir}", field="dir")
    known = set(wh.tables())
    result: dict[str, dict[str, int]] = {}
    sources: list[tuple[str, str]] = []
    for path in sorted(in_dir.iterdir()):
        name = path.name.removesuffix(".parquet")
        if name not in known:
            continue
        if path.is_dir() and any(path.rglob("*.parquet")):
            sources.append((name, f"read_parquet('{_q(path)}/**/*.parquet', hive_partitioning = true)"))
        elif path.suffix == ".parquet":
            sources.append((name, f"read_parquet('{_q(path)}')"))
    if not sources:
        raise LiveloopError(f"no liveloop Parquet tables found in {in_dir}", field="dir")
    current = ""
    try:
        with wh.transaction() as con:  # all tables or none
            for current, src in sources:
                result[current] = _load(wh, con, current, src)
            _advance_sequences(con)
    except duckdb.Error as exc:
        detail = str(exc).strip().splitlines()[0]
        raise LiveloopError(
            f"cannot import {current} from the Parquet export in {in_dir}: {detail}; nothing was imported",
            field="dir",
        ) from exc
    return result


def _load(wh: Warehouse, con: duckdb.DuckDBPyConnection, table: str, src: str) -> dict[str, int]:
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    cols = [c for c in wh.columns(table) if c in present]
    keys = [k for k in wh.key_columns(table) if k in present] or cols
    col_list = ", ".join(f'"{c}"' for c in cols)
    select = ", ".join(f's."{c}"' for c in cols)
    distinct = ", ".join(f'"{k}"' for k in keys)
    on = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in keys)
    read = first_row(con.execute(f"SELECT count(*) FROM {src}"))
    row = first_row(
        con.execute(
            f'INSERT INTO "{table}" ({col_list}) SELECT {select} '
            f"FROM (SELECT DISTINCT ON ({distinct}) * FROM {src}) s "
            f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {on})'
        )
    )
    n_read, loaded = int(read[0]) if read else 0, int(row[0]) if row else 0
    return {"read": n_read, "loaded": loaded, "duplicates": n_read - loaded}


def _advance_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Move each id sequence past the ids just restored, so later inserts do not collide."""
    rows = con.execute(
        "SELECT table_name, column_name, regexp_extract(column_default, ?, 1) "
        "FROM information_schema.columns WHERE column_default LIKE 'nextval(%'",
        [_NEXTVAL],
    ).fetchall()
    for table, column, seq in rows:
        top = first_row(con.execute(f'SELECT coalesce(max("{column}"), 0) FROM "{table}"'))
        last = first_row(
            con.execute(
                "SELECT coalesce(last_value, 0) FROM duckdb_sequences() WHERE sequence_name = ?", [seq]
            )
        )
        need = int(top[0] if top else 0) - int(last[0] if last else 0)
        if need > 0:
            con.execute(f"SELECT max(nextval('{seq}')) FROM range({need})").fetchall()
