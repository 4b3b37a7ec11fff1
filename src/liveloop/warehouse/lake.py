"""Parquet export and import of every table; events partitioned by date (the lake Spark shares)."""

from __future__ import annotations

from pathlib import Path

from liveloop.core.errors import LiveloopError
from liveloop.warehouse.store import TABLE_KEYS, Warehouse


def export_parquet(wh: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write each table to ``out_dir``; events as ``events/date=YYYY-MM-DD/*.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in wh.tables():
        n = int(wh.sql(f'SELECT count(*) FROM "{table}"')[0][0])
        counts[table] = n
        if table == "events":
            target = out_dir / "events"
            wh.sql(
                f"COPY (SELECT *, CAST(timezone('UTC', ts) AS DATE) AS date FROM events) TO '{_q(target)}' "
                "(FORMAT parquet, PARTITION_BY (date), OVERWRITE_OR_IGNORE TRUE, FILENAME_PATTERN 'part_{i}')"
            )
        else:
            wh.sql(f"COPY \"{table}\" TO '{_q(out_dir / (table + '.parquet'))}' (FORMAT parquet)")
    return counts


def import_parquet(wh: Warehouse, in_dir: Path) -> dict[str, dict[str, int]]:
    """Load an export back, skipping rows whose key already exists. Returns per-table counts."""
    if not in_dir.is_dir():
        raise LiveloopError(f"not a directory: {in_dir}", field="dir")
    known = set(wh.tables())
    result: dict[str, dict[str, int]] = {}
    sources: list[tuple[str, str]] = []
    for path in sorted(in_dir.iterdir()):
        name = path.name.removesuffix(".parquet")
        if name not in known:
            continue
        if path.is_dir():
            sources.append((name, f"read_parquet('{_q(path)}/**/*.parquet', hive_partitioning = true)"))
        elif path.suffix == ".parquet":
            sources.append((name, f"read_parquet('{_q(path)}')"))
    if not sources:
        raise LiveloopError(f"no liveloop Parquet tables found in {in_dir}", field="dir")
    with wh.transaction() as con:
        for table, src in sources:
            cols = wh.columns(table)
            keys = TABLE_KEYS[table]
            col_list = ", ".join(f'"{c}"' for c in cols)
            on = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in keys)
            read = int(con.execute(f"SELECT count(*) FROM {src}").fetchone()[0])  # type: ignore[index]
            before = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
            select = ", ".join("s." + c for c in col_list.split(", "))
            con.execute(
                f'INSERT INTO "{table}" ({col_list}) SELECT {select} '
                f'FROM (SELECT DISTINCT ON ({", ".join(keys)}) * FROM {src}) s '
                f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {on})'
            )
            after = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
            result[table] = {"read": read, "loaded": after - before, "duplicates": read - (after - before)}
    return result


def _q(path: Path) -> str:
    return str(path).replace("'", "''")
