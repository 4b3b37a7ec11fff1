"""The import engine: read a chunk, validate it in DuckDB, then in ONE transaction insert the good
rows that are new, count the duplicates and quarantine the rest, and record progress.

A crash or Ctrl-C loses at most the chunk in flight (rolled back); re-running the import skips what
is already loaded (the table's key, through the key index or an anti-join) and what is already
quarantined (fingerprint).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import weakref
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from liveloop.core.clock import latest
from liveloop.core.crypto import Cipher, load_cipher, protect_raw
from liveloop.core.errors import LiveloopError
from liveloop.core.ids import new_id
from liveloop.ingest.keyindex import KeyIndex, key_index
from liveloop.ingest.pii import encrypt_columns
from liveloop.ingest.readers import Chunk, Malformed
from liveloop.ingest.report import ImportReport
from liveloop.ingest.validate import TS_UNITS, Options, Target, ident, lit, present_fields, validation_sql
from liveloop.warehouse import TABLE_TIME, Warehouse

#: Longest raw row kept in quarantine (characters): whole rows up to 64 MB (the longest line read), so
#: a quarantined row can be shown in full and retried; only longer ones are cut, marked, and not retryable.
MAX_RAW = 64 << 20
#: Chunks de-duplicate through the in-process key index (off: the anti-join scans the table).
USE_KEY_INDEX = True


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
    upto = latest().strftime("%Y-%m-%d %H:%M:%S+00")
    return Options(source_tz=source_tz, ts_unit=ts_unit, latest=upto, labels=label_kinds(wh))


#: Per open warehouse: the label kinds in ``label_map`` and each table's column defaults. Both are
#: read once (a statement costs DuckDB a millisecond or more, and the HTTP API runs one import per
#: request); ``add_label`` forgets the kinds, and the schema changes only by migrations at open.
_LABEL_KINDS: weakref.WeakKeyDictionary[Warehouse, frozenset[str]] = weakref.WeakKeyDictionary()
_DEFAULTS: weakref.WeakKeyDictionary[Warehouse, dict[str, dict[str, str | None]]]
_DEFAULTS = weakref.WeakKeyDictionary()


def label_kinds(wh: Warehouse) -> frozenset[str]:
    """The label kinds ``label_map`` holds (validation joins only those)."""
    kinds = _LABEL_KINDS.get(wh)
    if kinds is None:
        kinds = _LABEL_KINDS[wh] = frozenset(r[0] for r in wh.sql("SELECT DISTINCT kind FROM label_map"))
    return kinds


def forget_labels(wh: Warehouse) -> None:
    """Call after writing ``label_map``, so the next import reads its kinds again."""
    _LABEL_KINDS.pop(wh, None)


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
    key_index: bool = True  # False for chunks that also fill derived tables (see ``_key_index``)
    clean: tuple[str, ...] = ()  # source columns of the chunk in flight already cleaned (``Chunk.clean``)
    ids_ok: tuple[str, ...] = ()  # source columns of the chunk in flight holding only ids (``Chunk.ids_ok``)
    # source columns of the chunk in flight whose timestamps the reader parsed (``Chunk.ts_parsed``)
    ts_parsed: tuple[str, ...] = ()
    _cipher: Cipher | None = None

    def defaults(self, table: str) -> dict[str, str | None]:
        known = _DEFAULTS.setdefault(self.wh, {})
        if table not in known:
            known[table] = _defaults(self.wh, table)
        return known[table]

    @property
    def cipher(self) -> Cipher:
        if self._cipher is None:
            from liveloop.core.config import get_settings

            self._cipher = load_cipher(get_settings())
        return self._cipher


def process_chunk(ctx: Context, chunk: Chunk, targets: Sequence[Target]) -> None:
    """Validate, de-duplicate, load and quarantine one chunk atomically; update the report.

    Intermediate results stay inside DuckDB (temp tables ``_val_N``; ``_new`` for derived tables); only
    tables with PII, and callers that need per-row outcomes, bring rows back to Python. DuckDB plans
    every statement afresh, at a cost that grows with its expressions, so a chunk runs few statements:
    none for a target no row goes to, reasons only for bad rows.
    """
    con = ctx.wh.con
    src = chunk.table
    with ctx.wh._lock, registered(con, "_src", src):
        ctx.key_index = not any(t.derived for t in targets)
        ctx.clean = tuple(src.column_names) if chunk.clean else ()
        ctx.ids_ok = tuple(chunk.ids_ok)
        ctx.ts_parsed = tuple(chunk.ts_parsed)
        routed, unrouted = _route(con, targets)
        vals = [f"_val_{i}" for i in range(len(routed))]
        try:
            for t, val in zip(routed, vals, strict=True):
                sql = _validation(ctx, t, "_src")
                con.execute(f"CREATE OR REPLACE TEMP TABLE {val} AS {sql}").fetchall()
            malformed = list(chunk.malformed)
            if unrouted:
                malformed += _unrouted(con, targets, chunk.source_columns)
            before = copy.deepcopy(ctx.report.__dict__)
            try:
                with ctx.wh.transaction():
                    for t in targets:
                        ctx.report.table(t.table)
                    for t, val in zip(routed, vals, strict=True):
                        _load(ctx, t, val, chunk)
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
            for val in vals:
                with suppress(duckdb.Error):
                    con.execute(f"DROP TABLE IF EXISTS {val}").fetchall()


def _validation(ctx: Context, t: Target, source: str, *, reasons: bool = False) -> str:
    """The validation query of target ``t`` over ``source``, given what the reader found of the chunk.
    Only derived tables read the fields no source column fills (as NULL), so only they get them."""
    return validation_sql(
        t,
        source,
        ctx.opt,
        keep_window=ctx.keep_window,
        reasons=reasons,
        clean=ctx.clean,
        ids_ok=ctx.ids_ok,
        ts_parsed=ctx.ts_parsed,
        present_only=not t.derived,
    )


def _routes(targets: Sequence[Target]) -> list[str]:
    return [f"coalesce({t.where}, FALSE)" if t.where else "TRUE" for t in targets]


def _route(con: duckdb.DuckDBPyConnection, targets: Sequence[Target]) -> tuple[list[Target], bool]:
    """The targets some row of ``_src`` goes to, and whether a row goes to none (one count query)."""
    if not any(t.where for t in targets):
        return list(targets), False
    conds = _routes(targets)
    counts = "".join(f"count(*) FILTER ({c}), " for c in conds)
    row = con.execute(f"SELECT {counts}count(*) FILTER (NOT ({' OR '.join(conds)})) FROM _src").fetchall()[0]
    return [t for t, n in zip(targets, row, strict=False) if n], bool(row[-1])


def _unrouted(
    con: duckdb.DuckDBPyConnection, targets: Sequence[Target], src_cols: list[str]
) -> list[Malformed]:
    """Rows no target takes (e.g. a Segment ``alias`` message); ``src_cols``: the columns to show."""
    cols = ", ".join(ident(c) for c in ["_line", *src_cols])
    left = con.sql(f"SELECT {cols} FROM _src WHERE NOT ({' OR '.join(_routes(targets))})").to_arrow_table()
    rows = left.drop_columns(["_line"]).to_pylist()
    return [
        Malformed(
            line, json.dumps(row, ensure_ascii=False, default=str), "unsupported_row: no table takes this row"
        )
        for line, row in zip(left["_line"].to_pylist(), rows, strict=True)
    ]


def _load(ctx: Context, t: Target, val: str, chunk: Chunk) -> None:
    """Insert the good new rows of ``val`` (validated from ``chunk``), count the duplicates, quarantine
    the rest.

    A good row is new when it is the first of its key in the chunk and the table lacks that key; the
    other good rows are duplicates. Chunks of a one-column key ask the table's key index
    (``liveloop.ingest.keyindex``) instead of scanning the table's key column (bulk chunks while it fits).
    """
    con, spec, report = ctx.wh.con, t.spec, ctx.report
    counts = report.table(t.table)
    good: list[tuple[Any, ...]] = []
    index = _key_index(ctx, t)
    if ctx.outcomes is not None:  # API-sized chunks: the lines come back to Python
        keys = ", ".join(ident(k) for k in spec.key)
        hashed = f", {index.hash_sql}" if index is not None else ""
        rows = con.execute(f"SELECT _line, _rule, {keys}{hashed} FROM {val} ORDER BY _line").fetchall()
        good = [r for r in rows if r[1] is None]
        n_val, n_good = len(rows), len(good)
    else:
        row = con.execute(f"SELECT count(*), count(*) FILTER (_rule IS NULL) FROM {val}").fetchall()[0]
        n_val, n_good = int(row[0]), int(row[1])
    n_new = 0
    if n_good and index is not None and ctx.outcomes is not None:
        index.sync(con)
        lines, hashes = index.split(con, val, [(r[0], r[2], r[3]) for r in good])
        every = len(lines) == n_good
        n_new, _ = _insert(ctx, t, val, want_keys=False, repeats=False, lines=lines, every=every)
        index.add(hashes)
        fresh = set(lines)
        for line, _, key, _ in good:
            (ctx.outcomes.new if line in fresh else ctx.outcomes.dup)[line] = key
    elif n_good:
        repeats = ctx.outcomes is None or len({r[2:] for r in good}) < n_good
        skip = index.split_bulk(con, val) if index is not None else None  # a bulk chunk
        if skip is not None:
            repeats = False  # the key index left out each repeat too
        want = ctx.outcomes is not None
        n_new, inserted = _insert(ctx, t, val, want_keys=want, repeats=repeats, skip=skip)
        if ctx.outcomes is not None:
            seen: set[tuple[Any, ...]] = set()
            for line, _, *key in good:
                k = tuple(key)
                new = k in inserted and k not in seen
                seen.add(k)
                (ctx.outcomes.new if new else ctx.outcomes.dup)[line] = key[0]
    n_dup = n_good - n_new
    counts.loaded += n_new
    counts.duplicates += n_dup
    report.loaded += n_new
    report.duplicates += n_dup
    if ctx.retry and n_good:
        con.execute(
            "UPDATE quarantine SET status = 'resolved' "
            f"WHERE quarantine_id IN (SELECT _line FROM {val} WHERE _rule IS NULL)"
        ).fetchall()
    n_bad = n_val - n_good
    if n_bad:
        _quarantine_bad(ctx, t, val, chunk)
        counts.quarantined += n_bad
        report.quarantined += n_bad


def _key_index(ctx: Context, t: Target) -> KeyIndex | None:
    """The key index of this target's table, or None (compound keys, chunks that fill derived tables,
    ``USE_KEY_INDEX`` off). API-sized chunks always use it; bulk chunks while it fits ``BULK_MAX_KEYS``."""
    if not ctx.key_index or len(t.spec.key) != 1 or not USE_KEY_INDEX:
        return None
    prune = TABLE_TIME.get(t.table)
    if not any(f.name == prune and f.required for f in t.spec.fields):
        prune = None
    return key_index(ctx.wh, t.table, t.spec.key[0], prune)


def _insert(
    ctx: Context,
    t: Target,
    val: str,
    *,
    want_keys: bool,
    repeats: bool,
    lines: list[int] | None = None,
    every: bool = False,
    skip: list[int] | None = None,
) -> tuple[int, set[tuple[Any, ...]]]:
    """Insert the new good rows of ``val`` (PII encrypted on the way), then fill the derived tables.

    ``repeats``: a key may come more than once (then the first line of each key is the one inserted).
    ``lines``: the key index already chose the lines to insert (``every``: all good rows), so the table
    is not read. ``skip``: the key index chose the good lines not to insert (their keys are in the table
    or on an earlier line), so the table is not read either; None: anti-join the table. Lists of lines
    are semi-joined (``list_contains`` compares each row with every item). Returns how many rows were
    inserted and, when ``want_keys``, their keys. Derived tables read the inserted rows as ``_new`` (a
    temp table, or the encrypted Arrow rows).
    """
    con, spec = ctx.wh.con, t.spec
    keys = ", ".join(ident(k) for k in spec.key)
    on = " AND ".join(f"w.{ident(k)} = v.{ident(k)}" for k in spec.key)
    params: list[Any] = []
    if lines is not None:
        if not lines:
            return 0, set()
        fresh = f"SELECT * EXCLUDE (_rule) FROM {val} v WHERE _rule IS NULL"
        if not every:
            fresh += " AND _line IN (SELECT unnest(?))"
            params.append(lines)
    else:
        fresh = f"SELECT * EXCLUDE (_rule) FROM {val} v WHERE _rule IS NULL"
        if skip is None:
            fresh += f" AND NOT EXISTS (SELECT 1 FROM {ident(t.table)} w WHERE {on})"
        elif skip:
            fresh += " AND _line NOT IN (SELECT unnest(?))"
            params.append(skip)
        if repeats:
            fresh += f" QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _line) = 1"
    defaults = ctx.defaults(t.table)
    inserted: set[tuple[Any, ...]] = set()

    # a field no source row fills is left to the column's default (an all-NULL column costs ~5% to store)
    unset = {f.name for f in spec.fields} - present_fields(t)

    def insert(source: str, columns: Iterable[str], source_params: Sequence[Any] = ()) -> int:
        cols = [c for c in columns if c in defaults and c != "source" and c not in unset]
        col_sql = ", ".join(ident(c) for c in cols)
        values = ", ".join(f"coalesce({ident(c)}, {defaults[c]})" if defaults[c] else ident(c) for c in cols)
        returning = f" RETURNING {keys}" if want_keys else ""
        rows = con.execute(
            f"INSERT INTO {ident(t.table)} ({col_sql}, source) SELECT {values}, ? FROM {source}{returning}",
            [ctx.tag, *source_params],
        ).fetchall()
        if want_keys:
            inserted.update(rows)
            return len(rows)
        return int(rows[0][0]) if rows else 0

    if spec.pii_fields:
        new = encrypt_columns(con.sql(fresh, params=params or None).to_arrow_table(), spec, ctx.cipher)
        with registered(con, "_new", new):
            n = insert("_new", new.column_names)
            _derive(ctx, t)
        return n, inserted
    if not t.derived:
        return insert(f"({fresh})", (*spec.names, *t.extra), params), inserted
    con.execute(f"CREATE OR REPLACE TEMP TABLE _new AS {fresh}", params).fetchall()
    try:
        n = insert("_new", (*spec.names, *t.extra))
        _derive(ctx, t)
    finally:
        with suppress(duckdb.Error):  # after a failed statement the rollback drops it
            con.execute("DROP TABLE IF EXISTS _new").fetchall()
    return n, inserted


def _derive(ctx: Context, t: Target) -> None:
    for table, sql in t.derived:
        n = ctx.wh.con.execute(sql, [ctx.tag]).fetchall()[0]
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


def _quarantine_bad(ctx: Context, t: Target, val: str, chunk: Chunk) -> None:
    """Quarantine the rows of ``val`` that broke a rule, with their reason and raw source row.

    The reasons are built here, by validating just those rows of the chunk again with reasons asked for
    (the rows picked by Arrow: a scan of the chunk in SQL converts every column of every row).
    """
    con, src = ctx.wh.con, chunk.table
    lines = con.execute(f"SELECT _line FROM {val} WHERE _rule IS NOT NULL").fetchnumpy()["_line"]
    why = _validation(ctx, t, "_b", reasons=True)
    obj = ", ".join(f"{lit(c)}, s.{ident(c)}" for c in chunk.source_columns)
    with registered(con, "_b", src.filter(pc.is_in(src["_line"], value_set=pa.array(lines)))):
        rows = con.execute(
            f"SELECT _line, reason, field, raw, {_fingerprint_sql(ctx, t.table)} AS fingerprint "
            "FROM (SELECT v._line, v._reason AS reason, v._field AS field, "
            f"CAST(json_object({obj}) AS VARCHAR) AS raw "
            f"FROM ({why}) v JOIN _b s USING (_line) WHERE v._rule IS NOT NULL) ORDER BY _line"
        ).fetchall()
    names = ("_line", "reason", "field", "raw", "fingerprint")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    types = (pa.int64(), *[pa.string()] * 4)
    bad = pa.table({n: pa.array(c, ty) for n, c, ty in zip(names, columns, types, strict=True)})
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
