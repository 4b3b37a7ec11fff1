"""The import engine: read a chunk, validate it in DuckDB, then in ONE transaction insert the good
rows that are new, count the duplicates and quarantine the rest, and record progress.

A crash or Ctrl-C loses at most the chunk in flight (rolled back); re-running the import skips what
is already loaded (anti-join on the table's key) and what is already quarantined (fingerprint).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from liveloop.core.errors import LiveloopError
from liveloop.core.ids import new_id
from liveloop.ingest.pii import encrypt_columns, protect_raw
from liveloop.ingest.readers import Chunk, Malformed
from liveloop.ingest.report import ImportReport
from liveloop.ingest.validate import TS_UNITS, Options, Target, ident, lit, validation_sql
from liveloop.privacy.crypto import Cipher, load_cipher
from liveloop.warehouse import Warehouse

#: Longest raw row kept in quarantine (characters): whole rows up to 64 MB (the longest line read), so
#: a quarantined row can be shown in full and retried; only longer ones are cut, marked, and not retryable.
MAX_RAW = 64 << 20


def make_options(wh: Warehouse, source_tz: str, ts_unit: str) -> Options:
    """Check the import options and snapshot what validation needs from the warehouse."""
    try:
        zoneinfo.ZoneInfo(source_tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise LiveloopError(
            f"unknown time zone: {source_tz!r} (e.g. Asia/Shanghai, UTC)", field="source_tz"
        ) from exc
    if ts_unit not in TS_UNITS:
        raise LiveloopError(f"ts_unit must be one of {', '.join(TS_UNITS)}, not {ts_unit!r}", field="ts_unit")
    latest = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S+00")
    labels = frozenset(r[0] for r in wh.sql("SELECT DISTINCT kind FROM label_map"))
    return Options(source_tz=source_tz, ts_unit=ts_unit, latest=latest, labels=labels)


@dataclass
class Outcomes:
    """Per-line fates, collected when the caller needs them (the HTTP API, quarantine retry)."""

    new: dict[int, str | None] = field(default_factory=dict)
    dup: dict[int, str | None] = field(default_factory=dict)
    bad: dict[int, tuple[str, str | None]] = field(default_factory=dict)


@dataclass
class Context:
    """Everything a chunk needs to know about the import it belongs to."""

    wh: Warehouse
    report: ImportReport
    source: str  # the file (or "api"), stored with quarantined rows
    tag: str  # the value of each loaded row's ``source`` column
    feed: str  # adapter feed key, stored with quarantined rows so retry can read them back
    opt: Options
    keep_window: bool = False
    import_id: str | None = None
    retry: bool = False  # lines are quarantine ids: update those rows instead of adding new ones
    outcomes: Outcomes | None = None
    _cipher: Cipher | None = None
    _defaults: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def defaults(self, table: str) -> dict[str, str | None]:
        if table not in self._defaults:
            self._defaults[table] = _defaults(self.wh, table)
        return self._defaults[table]

    @property
    def cipher(self) -> Cipher:
        if self._cipher is None:
            from liveloop.core.config import get_settings

            self._cipher = load_cipher(get_settings())
        return self._cipher


def process_chunk(ctx: Context, chunk: Chunk, targets: Sequence[Target]) -> None:
    """Validate, de-duplicate, load and quarantine one chunk atomically; update the report.

    Intermediate results stay inside DuckDB (temp tables ``_val_N``, ``_cand``, ``_new``); only tables
    with PII, and callers that need per-row outcomes, bring rows back to Python.
    """
    con = ctx.wh.con
    src = chunk.table
    with ctx.wh._lock, registered(con, "_src", src):
        vals = [f"_val_{i}" for i in range(len(targets))]
        try:
            for t, val in zip(targets, vals, strict=True):
                sql = validation_sql(t, "_src", ctx.opt, keep_window=ctx.keep_window)
                con.execute(f"CREATE OR REPLACE TEMP TABLE {val} AS {sql}").fetchall()
            malformed = list(chunk.malformed)
            if len(targets) > 1 or targets[0].where:
                malformed += _unrouted(con, src.column_names, vals)
            before = copy.deepcopy(ctx.report.__dict__)
            try:
                with ctx.wh.transaction():
                    for t, val in zip(targets, vals, strict=True):
                        _load(ctx, t, val, src.column_names)
                    if malformed:
                        _quarantine_malformed(ctx, targets[0], malformed)
                    ctx.report.rows_read += src.num_rows + len(chunk.malformed)
                    if ctx.import_id:
                        r = ctx.report
                        con.execute(
                            "UPDATE imports SET rows_read = ?, loaded = ?, duplicates = ?, quarantined = ? "
                            "WHERE import_id = ?",
                            [r.rows_read, r.loaded, r.duplicates, r.quarantined, ctx.import_id],
                        )
            except BaseException:
                ctx.report.__dict__.update(before)  # the chunk was rolled back: so are its counts
                raise
        finally:
            for drop in (
                "VIEW IF EXISTS _new",
                "TABLE IF EXISTS _new",
                "TABLE IF EXISTS _dups",
                *(f"TABLE IF EXISTS {v}" for v in vals),
            ):
                with suppress(duckdb.Error):  # a view where a table is expected, or the reverse
                    con.execute(f"DROP {drop}").fetchall()


def _unrouted(con: duckdb.DuckDBPyConnection, src_cols: list[str], vals: list[str]) -> list[Malformed]:
    """Rows no target took (e.g. a Segment ``alias`` message)."""
    taken = " UNION ALL ".join(f"SELECT _line FROM {v}" for v in vals)
    left = con.sql(f"SELECT * FROM _src WHERE _line NOT IN ({taken})").to_arrow_table()
    if left.num_rows == 0:
        return []
    rows = left.drop_columns(["_line"]).to_pylist()
    return [
        Malformed(
            line, json.dumps(row, ensure_ascii=False, default=str), "unsupported_row: no table takes this row"
        )
        for line, row in zip(left["_line"].to_pylist(), rows, strict=True)
    ]


def _load(ctx: Context, t: Target, val: str, src_cols: list[str]) -> None:
    """Insert the good new rows of ``val``, count the duplicates, quarantine the rest.

    Only the lines of duplicates are materialised (``_dups``: repeated within the chunk or already in
    the table); the rows to insert are the view ``_new`` over ``val``.
    """
    con, spec, report = ctx.wh.con, t.spec, ctx.report
    counts = report.table(t.table)
    keys = ", ".join(ident(k) for k in spec.key)
    on = " AND ".join(f"w.{ident(k)} = v.{ident(k)}" for k in spec.key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT _line FROM (SELECT _line, {keys} FROM {val} "
        f"WHERE _reason IS NULL QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _line) > 1) "
        f"UNION ALL SELECT _line FROM {val} v WHERE _reason IS NULL "
        f"AND EXISTS (SELECT 1 FROM {ident(t.table)} w WHERE {on})"
    ).fetchall()
    row = con.execute(
        "SELECT count(*), count(*) FILTER (_reason IS NULL), "
        f"(SELECT count(DISTINCT _line) FROM _dups) FROM {val}"
    ).fetchall()[0]
    n_val, n_good, n_dup = (int(x) for x in row)
    not_dup = " AND _line NOT IN (SELECT _line FROM _dups)" if n_dup else ""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _new AS SELECT * EXCLUDE (_reason, _field) FROM {val} "
        f"WHERE _reason IS NULL{not_dup}"
    ).fetchall()
    n_new = n_good - n_dup
    if ctx.outcomes is not None:
        cand = con.sql(
            f"SELECT _line, {ident(spec.key[0])} AS k, _line IN (SELECT _line FROM _dups) AS dup "
            f"FROM {val} WHERE _reason IS NULL"
        ).to_arrow_table()
        for line, k, dup in zip(
            cand["_line"].to_pylist(), cand["k"].to_pylist(), cand["dup"].to_pylist(), strict=True
        ):
            (ctx.outcomes.dup if dup else ctx.outcomes.new)[line] = k
    if n_new:
        _insert(ctx, t)
    counts.loaded += n_new
    counts.duplicates += n_dup
    report.loaded += n_new
    report.duplicates += n_dup
    if ctx.retry and n_good:
        con.execute(
            "UPDATE quarantine SET status = 'resolved' "
            f"WHERE quarantine_id IN (SELECT _line FROM {val} WHERE _reason IS NULL)"
        ).fetchall()
    n_bad = n_val - n_good
    if n_bad:
        _quarantine_bad(ctx, t, val, src_cols)
        counts.quarantined += n_bad
        report.quarantined += n_bad


def _insert(ctx: Context, t: Target) -> None:
    """Insert the rows of ``_new`` (PII encrypted on the way), then fill the derived tables."""
    con, spec = ctx.wh.con, t.spec
    source = "_new"
    if spec.pii_fields:
        new = encrypt_columns(con.sql("SELECT * FROM _new").to_arrow_table(), spec, ctx.cipher)
        con.execute("DROP VIEW _new").fetchall()
        with registered(con, "_new_pii", new):
            con.execute("CREATE TEMP TABLE _new AS SELECT * FROM _new_pii").fetchall()
        del new
    defaults = ctx.defaults(t.table)
    cols = [c for c in con.sql(f"SELECT * FROM {source} LIMIT 0").columns if c in defaults and c != "source"]
    col_sql = ", ".join(ident(c) for c in cols)
    values = ", ".join(f"coalesce({ident(c)}, {defaults[c]})" if defaults[c] else ident(c) for c in cols)
    con.execute(
        f"INSERT INTO {ident(t.table)} ({col_sql}, source) SELECT {values}, ? FROM {source}", [ctx.tag]
    ).fetchall()
    for table, sql in t.derived:
        n = con.execute(sql, [ctx.tag]).fetchall()[0]
        ctx.report.table(table).loaded += int(n[0]) if n else 0


def _defaults(wh: Warehouse, table: str) -> dict[str, str | None]:
    """Each column of ``table`` with the default that replaces NULL in a NOT NULL column."""
    rows = wh.con.execute(
        "SELECT column_name, column_default, is_nullable FROM information_schema.columns "
        "WHERE table_name = ?",
        [table],
    ).fetchall()
    return {name: (default if nullable == "NO" else None) for name, default, nullable in rows}


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> Iterator[None]:
    """``data`` visible to SQL as ``name`` for the block (unregistered even after a failed statement)."""
    con.register(name, data)
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            con.unregister(name)


def _fingerprint_sql(ctx: Context, table: str) -> str:
    name = Path(ctx.source).name
    return f"md5({lit(table + '|' + ctx.feed + '|' + name + '|')} || _line || '|' || coalesce(raw, ''))"


def _quarantine_bad(ctx: Context, t: Target, val: str, src_cols: list[str]) -> None:
    """Quarantine the rows of ``val`` that broke a rule, with their raw source row."""
    con = ctx.wh.con
    obj = ", ".join(f"{lit(c)}, s.{ident(c)}" for c in src_cols if c != "_line")
    bad = con.sql(
        "SELECT _line, _reason AS reason, _field AS field, raw, "
        f"{_fingerprint_sql(ctx, t.table)} AS fingerprint "
        f"FROM (SELECT v._line, v._reason, v._field, CAST(json_object({obj}) AS VARCHAR) AS raw "
        f"FROM {val} v JOIN _src s USING (_line) WHERE v._reason IS NOT NULL)"
    ).to_arrow_table()
    for reason in bad["reason"].to_pylist():
        ctx.report.by_reason[reason.split(":", 1)[0]] += 1
    _store(ctx, t, bad)


def _quarantine_malformed(ctx: Context, t: Target, rows: list[Malformed]) -> None:
    name = Path(ctx.source).name
    prefix = f"{t.table}|{ctx.feed}|{name}|"
    for m in rows:
        ctx.report.by_reason[m.reason.split(":", 1)[0]] += 1
    ctx.report.quarantined += len(rows)
    ctx.report.table(t.table).quarantined += len(rows)
    bad = pa.table(
        {
            "_line": pa.array([m.line for m in rows], pa.int64()),
            "reason": [m.reason for m in rows],
            "field": pa.array([None] * len(rows), pa.string()),
            "raw": [m.raw for m in rows],
            "fingerprint": [hashlib.md5(f"{prefix}{m.line}|{m.raw}".encode()).hexdigest() for m in rows],
        }
    )
    _store(ctx, t, bad)


def _store(ctx: Context, t: Target, bad: pa.Table) -> None:
    """Write quarantine rows (raw cut to MAX_RAW; encrypted for PII tables), skipping known fingerprints."""
    con = ctx.wh.con
    raw = [_cut(r) for r in bad["raw"].to_pylist()]
    if t.spec.pii_fields or t.protect_raw:
        raw = [protect_raw(r, ctx.cipher) for r in raw]
    bad = bad.set_column(bad.column_names.index("raw"), "raw", pa.array(raw, pa.string()))
    if ctx.outcomes is not None:
        for line, reason, fld in zip(
            bad["_line"].to_pylist(), bad["reason"].to_pylist(), bad["field"].to_pylist(), strict=True
        ):
            ctx.outcomes.bad[line] = (reason, fld)
    with registered(con, "_bad", bad):
        if ctx.retry:
            con.execute(
                "UPDATE quarantine q SET reason = b.reason, field = b.field FROM _bad b "
                "WHERE q.quarantine_id = b._line"
            )
            return
        con.execute(
            "INSERT INTO quarantine "
            "(import_id, target_table, source, line, raw, reason, field, fingerprint, feed) "
            "SELECT ?, ?, ?, _line, raw, reason, field, fingerprint, ? FROM "
            "(SELECT DISTINCT ON (fingerprint) * FROM _bad) b "
            "WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.fingerprint = b.fingerprint)",
            [ctx.import_id, t.table, ctx.source, ctx.feed],
        )


def _cut(raw: str | None) -> str | None:
    if raw is None or len(raw) <= MAX_RAW:
        return raw
    return raw[:MAX_RAW] + f"…[truncated: {len(raw)} characters]"


# -- import runs ----------------------------------------------------------------------------------
def start_import(wh: Warehouse, source: str, adapter: str, options: dict[str, Any]) -> str:
    """Record a new run in ``imports``; earlier runs of the same source left 'running' were interrupted."""
    import_id = new_id("imp")
    wh.sql("UPDATE imports SET status = 'interrupted' WHERE status = 'running' AND source = ?", [source])
    wh.sql(
        "INSERT INTO imports (import_id, source, adapter, report) VALUES (?, ?, ?, ?)",
        [import_id, source, adapter, json.dumps({"options": options})],
    )
    return import_id


def finish_import(wh: Warehouse, report: ImportReport, options: dict[str, Any], status: str) -> None:
    report.status = status
    body = {**report.to_dict(), "options": options}
    wh.sql(
        "UPDATE imports SET status = ?, finished_at = now(), rows_read = ?, loaded = ?, duplicates = ?, "
        "quarantined = ?, report = ? WHERE import_id = ?",
        [
            status,
            report.rows_read,
            report.loaded,
            report.duplicates,
            report.quarantined,
            json.dumps(body, default=str),
            report.import_id,
        ],
    )


def run_chunks(
    ctx: Context, chunks: Iterable[Chunk], targets: Sequence[Target], progress: Any = None
) -> None:
    started = time.perf_counter()
    for chunk in chunks:
        process_chunk(ctx, chunk, targets)
        if progress is not None:
            progress(chunk.pos)
    ctx.report.seconds += time.perf_counter() - started
