"""Backups: a consistent copy of the warehouse file, taken while it serves, and its restore.

``backup`` copies every table, sequence and view into a new DuckDB file in one statement
(``COPY FROM DATABASE``) on the open connection, under the warehouse's lock, so the copy is one
consistent state even while ``liveloop serve`` writes (the CLI runs it inside the server). The file is
written beside its target and renamed when complete, readable by its owner only. ``restore`` replaces
the warehouse file with a backup (the replaced file is kept beside it) when no process holds it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb

from liveloop.core.config import Settings
from liveloop.core.errors import Conflict, LiveloopError, NotFound
from liveloop.warehouse.migrations import LATEST_VERSION
from liveloop.warehouse.store import Warehouse, owner_only, private_dir

_ALIAS = "liveloop_backup"


def _counts(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
        [catalog],
    ).fetchall()
    return {
        name: int(con.execute(f'SELECT count(*) FROM "{catalog}".main."{name}"').fetchall()[0][0])
        for (name,) in tables
    }


def backup(wh: Warehouse, to: Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Copy the open warehouse to ``to`` (a new DuckDB file); the row count of every table copied."""
    to = Path(to).resolve()
    if to.exists() and not overwrite:
        raise Conflict(f"{to} exists: pass --overwrite to replace it", field="to")
    if to == wh.path.resolve():
        raise LiveloopError("the backup cannot replace the warehouse itself", field="to")
    to.parent.mkdir(parents=True, exist_ok=True)
    partial = to.with_name(f".{to.name}.partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    with wh.transaction() as con:  # under the lock: one consistent state, no writer in between
        source = str(con.execute("SELECT current_database()").fetchall()[0][0])
        con.execute(f"ATTACH '{str(partial).replace(chr(39), chr(39) * 2)}' AS {_ALIAS}")
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO {_ALIAS}')
            counts = _counts(con, _ALIAS)
        finally:
            con.execute(f"DETACH {_ALIAS}")
    owner_only(partial)
    os.replace(partial, to)
    return {
        "path": str(to),
        "tables": counts,
        "rows": sum(counts.values()),
        "bytes": to.stat().st_size,
        "seconds": round(time.monotonic() - started, 2),
    }


def backup_to_home(wh: Warehouse, settings: Settings) -> dict[str, Any]:
    """A backup in ``LIVELOOP_HOME/backups`` named by its time (what the API takes: no path from a client)."""
    folder = settings.home / "backups"
    private_dir(folder)
    return backup(wh, folder / f"liveloop-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.duckdb")


def home_backups(settings: Settings) -> list[dict[str, Any]]:
    """The backups in ``LIVELOOP_HOME/backups``, newest first."""
    folder = settings.home / "backups"
    files = sorted(folder.glob("liveloop-*.duckdb"), reverse=True) if folder.is_dir() else []
    return [{"name": f.name, "path": str(f), "bytes": f.stat().st_size} for f in files]


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Make the backup at ``source`` the warehouse of ``settings`` (the current file is kept as
    ``liveloop.duckdb.before-restore``). The warehouse must not be open anywhere."""
    source = Path(source).resolve()
    if not source.is_file():
        raise NotFound(f"no backup at {source}", field="source")
    try:  # a DuckDB file of a schema this liveloop can read
        with Warehouse(source, read_only=True) as check:
            version, counts = (
                check.schema_version(),
                _counts(check.con, str(check.con.execute("SELECT current_database()").fetchall()[0][0])),
            )
    except (duckdb.Error, LiveloopError) as exc:
        detail = exc.detail if isinstance(exc, LiveloopError) else str(exc).splitlines()[0]
        raise LiveloopError(f"{source} is not a liveloop backup: {detail}", field="source") from None
    if version < 1 or version > LATEST_VERSION:
        raise LiveloopError(f"{source} has schema version {version}: not a backup this liveloop reads",
                            field="source")  # fmt: skip
    target = settings.db_path
    with Warehouse(target) if target.exists() else contextlib.nullcontext():  # in use: refused here
        pass
    kept = None
    if target.exists():
        kept = target.with_name(target.name + ".before-restore")
        os.replace(target, kept)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            os.replace(wal, kept.with_name(kept.name + ".wal"))
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    owner_only(partial)
    os.replace(partial, target)
    with Warehouse(target, memory_limit=settings.duckdb_memory):  # migrates an older backup
        pass
    return {"restored": str(source), "warehouse": str(target), "kept": str(kept) if kept else None,
            "tables": counts, "rows": sum(counts.values())}  # fmt: skip
