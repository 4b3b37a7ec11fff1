"""The warehouse: one DuckDB file under LIVELOOP_HOME, migrated on open, appended through Arrow."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import LiveloopError, WarehouseInUse, WarehouseVersionError
from liveloop.warehouse.migrations import LATEST_VERSION, MIGRATIONS

#: The natural key of each table, used for de-duplication on import and restore.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("user_id",),
    "products": ("product_id",),
    "hosts": ("host_id",),
    "live_sessions": ("session_id",),
    "events": ("event_id",),
    "orders": ("order_id",),
    "order_items": ("order_id", "line_no"),
    "comments": ("comment_id",),
    "consents": ("consent_id",),
    "campaigns": ("campaign_id",),
    "messages": ("message_id",),
    "coupons": ("coupon_id",),
    "audit_log": ("audit_id",),
    "quarantine": ("quarantine_id",),
    "imports": ("import_id",),
    "label_map": ("kind", "raw"),
    "api_keys": ("key_id",),
    "model_versions": ("name", "version"),
    "live_minutes": ("session_id", "minute"),
    "live_questions": ("session_id", "group_id"),
    "live_alerts": ("session_id", "kind", "subject"),
    "live_draws": ("session_id", "seed", "digest"),
    "live_summaries": ("session_id",),
}

#: Timestamp column that dates each table's rows (for status and partitioned export).
TABLE_TIME: dict[str, str] = {
    "events": "ts",
    "orders": "ts",
    "comments": "ts",
    "live_sessions": "start_ts",
    "users": "signup_ts",
    "messages": "created_at",
    "audit_log": "ts",
    "quarantine": "created_at",
    "live_minutes": "minute",
    "live_alerts": "ts",
    "live_summaries": "start_ts",
}


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of an executed statement, or None, with the result read to its end.

    DuckDB 2 keeps a result half-read by ``fetchone`` open, and the connection then refuses relations
    (``con.sql``) until it is finished; every single-row read goes through here instead.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def sql_path(path: Path) -> str:
    """A file path inside a single-quoted SQL string literal."""
    return str(path).replace("'", "''")


def private_dir(path: Path) -> None:
    """Create ``path`` readable by its owner only (0700): the warehouse, its WAL, keys and models hold
    personal data. An existing folder is left as its owner set it."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        owner_only(path, 0o700)


def owner_only(path: Path, mode: int = 0o600) -> None:
    with contextlib.suppress(OSError):  # a file owned by someone else (read through a shared mount)
        os.chmod(path, mode)


class TableSource(Protocol):
    """What batch code reads from (Ibis tables, or SQL in DuckDB's dialect): the warehouse, or the lake on
    Spark (:class:`liveloop.warehouse.spark.SparkLake`)."""

    def table(self, name: str) -> Any: ...

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]: ...


class Warehouse:
    """A migrated DuckDB connection plus the few operations every capability needs."""

    def __init__(
        self,
        path: Path | str,
        *,
        read_only: bool = False,
        migrate: bool = True,
        memory_limit: str | None = None,
    ):
        self.path = Path(path)
        if not read_only:
            private_dir(self.path.parent)
        elif not self.path.exists():
            raise LiveloopError(f"no warehouse at {self.path}: run `liveloop init` first")
        self.read_only = read_only
        self.memory_limit = memory_limit
        self.con = self._connect()
        if not read_only:
            owner_only(self.path)
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._reader_cursors: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self._closed = False
        if migrate and not read_only:
            self.migrate()
        else:
            self._check_version()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.IOException as exc:
            msg = str(exc).splitlines()[0]
            if "lock" in msg.lower():
                raise WarehouseInUse(
                    f"the warehouse {self.path} is in use by another process (stop `liveloop serve` "
                    "or use the API)"
                ) from exc
            raise LiveloopError(f"cannot open the warehouse {self.path}: {msg}") from exc
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        if self.memory_limit:
            try:
                con.execute("SET memory_limit = ?", [self.memory_limit])
            except duckdb.Error:
                con.close()
                raise LiveloopError(
                    f"LIVELOOP_DUCKDB_MEMORY={self.memory_limit!r} is not a memory size (e.g. 50%, 4GB)",
                    field="LIVELOOP_DUCKDB_MEMORY",
                ) from None
        return con

    def compact(self) -> dict[str, int]:
        """Rewrite the file from its live rows (``COPY FROM DATABASE`` into a fresh file, swapped in):
        the only way to leave no byte of deleted rows behind, since DuckDB reuses freed blocks without
        clearing them. Writers wait on the lock meanwhile; reader cursors are made afresh after it.
        Returns the file's size before and after."""
        if self.read_only:
            raise LiveloopError("a read-only warehouse cannot be compacted")
        fresh = self.path.with_name(f".{self.path.name}.compact")
        with self._lock:
            self.con.execute("CHECKPOINT")
            before = self.path.stat().st_size
            fresh.unlink(missing_ok=True)
            try:
                self.con.execute(f"ATTACH '{sql_path(fresh)}' AS liveloop_compact")
                try:
                    name = first_row(self.con.execute("SELECT current_database()"))
                    self.con.execute(
                        f'COPY FROM DATABASE "{name[0] if name else "main"}" TO liveloop_compact'
                    )
                finally:
                    self.con.execute("DETACH liveloop_compact")
                owner_only(fresh)
                self._close_connections()
                os.replace(fresh, self.path)
                Path(f"{self.path}.wal").unlink(missing_ok=True)
            finally:
                fresh.unlink(missing_ok=True)
                if self._closed:
                    self.con = self._connect()
                    self._closed = False
            return {"bytes_before": before, "bytes_after": self.path.stat().st_size}

    def _close_connections(self) -> None:
        for cur in list(self._reader_cursors):
            cur.close()
        self._reader_cursors = weakref.WeakSet()
        self._readers = threading.local()  # every thread makes its reader again
        self.con.close()
        self._closed = True

    @classmethod
    def open(cls, settings: Settings | None = None, **kwargs: Any) -> Warehouse:
        settings = settings or get_settings()
        kwargs.setdefault("memory_limit", settings.duckdb_memory)
        return cls(settings.db_path, **kwargs)

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = first_row(
            self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
            )
        )
        if not exists or not exists[0]:
            return 0
        row = first_row(self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version"))
        return int(row[0]) if row else 0

    def _check_version(self) -> int:
        version = self.schema_version()
        if version > LATEST_VERSION:
            raise WarehouseVersionError(
                f"the warehouse {self.path} has schema version {version}, newer than this liveloop "
                f"(supports up to {LATEST_VERSION}): upgrade liveloop"
            )
        return version

    def migrate(self) -> list[int]:
        """Apply pending migrations in order, each in its own transaction. Returns versions applied."""
        version = self._check_version()
        applied: list[int] = []
        with self._lock:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
            )
            for number, description, sql in MIGRATIONS:
                if number <= version:
                    continue
                self.con.execute("BEGIN TRANSACTION")
                try:
                    self.con.execute(sql)
                    self.con.execute(
                        "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                        [number, description],
                    )
                    self.con.execute("COMMIT")
                except Exception:
                    self.con.execute("ROLLBACK")
                    raise
                applied.append(number)
        return applied

    def tables(self) -> list[str]:
        rows = self.sql(  # under the lock: the shared connection is not safe across threads
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' AND table_name <> 'schema_version' ORDER BY table_name"
        )
        return [r[0] for r in rows]

    def columns(self, table: str) -> list[str]:
        rows = self.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        )
        return [r[0] for r in rows]

    def key_columns(self, table: str) -> list[str]:
        """The natural key of ``table``: declared in TABLE_KEYS, else its primary key, else none."""
        if table in TABLE_KEYS:
            return list(TABLE_KEYS[table])
        found = self.sql(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [table],
        )
        row = found[0] if found else None
        return list(row[0]) if row else []

    # -- access -------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for use on another thread (DuckDB connections are not shared across threads)."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor, made once (a cursor and its ``SET`` cost more than a point query):
        for short reads off the writer lock, from any number of threads. Closed with the warehouse."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._readers, "cursor", None)
        if cur is None:
            cur = self._readers.cursor = self.cursor()
            self._reader_cursors.add(cur)  # a thread's cursor goes with the thread
        return cur

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.con.execute(query, params or []).fetchall()

    def arrow(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        """An Arrow table for the query (a relation, not a DB-API result: no extra copy, no warning)."""
        with self._lock:
            return self.con.sql(query, params=params or None).to_arrow_table()

    def df(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """A pandas DataFrame for the query."""
        with self._lock:
            return self.con.execute(query, params or []).df()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock across several transactions: other writers wait, readers go on."""
        with self._lock:
            yield

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT, rolled back on any exception (including KeyboardInterrupt)."""
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def append(self, table: str, data: pa.Table, *, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """Insert an Arrow table by column name; columns it lacks take their defaults.

        Without ``con`` the insert runs on the shared connection under the warehouse lock (its own
        transaction); with ``con`` (inside ``transaction()``) it joins the caller's transaction.
        """
        if data.num_rows == 0:
            return 0
        if con is None:
            with self._lock:
                return self.append(table, data, con=self.con)
        view = f"_append_{threading.get_ident()}"
        con.register(view, data)
        try:
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{view}"')
        finally:
            con.unregister(view)
        return data.num_rows

    @property
    def ibis(self) -> Any:
        """An Ibis backend on this thread's reader cursor (analytics are written as Ibis expressions). One
        per thread: a DuckDB connection refuses a second caller while it is busy, so a backend on the
        shared writer connection failed when a served CLI command met a concurrent write."""
        backend = getattr(self._readers, "ibis", None)
        if backend is None:
            import ibis

            backend = self._readers.ibis = ibis.duckdb.from_connection(self.reader())
        return backend

    def table(self, name: str) -> Any:
        """The Ibis table expression for ``name``."""
        return self.ibis.table(name)

    def close(self) -> None:
        self._close_connections()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
