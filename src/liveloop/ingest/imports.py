"""Entry points: import files, Arrow tables and API records through one validation path."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from liveloop.core.errors import LiveloopError, ValidationFailed
from liveloop.ingest.adapters import ADAPTERS
from liveloop.ingest.adapters.base import Feed
from liveloop.ingest.adapters.native import native_target
from liveloop.ingest.engine import Context, Outcomes, finish_import, make_options, run_chunks, start_import
from liveloop.ingest.readers import (
    CHUNK_ROWS,
    Chunk,
    CsvReader,
    JsonLinesReader,
    Malformed,
    ParquetReader,
    WhitespaceReader,
    prefetched,
    records_table,
)
from liveloop.ingest.report import ImportReport, RecordOutcome, RecordsResult
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import id_sources, ts_sources
from liveloop.warehouse import Warehouse


def open_reader(path: Path, feed: Feed, *, encoding: str | None, chunk_rows: int) -> Any:
    """The chunked reader for ``path`` as ``feed`` describes it."""
    enc = encoding or feed.encoding
    if feed.fmt == "parquet":
        return ParquetReader(path, chunk_rows=chunk_rows)
    if feed.fmt == "segment":
        from liveloop.ingest.adapters.segment import SegmentReader

        return SegmentReader(path, encoding=enc, chunk_rows=chunk_rows)
    kwargs: dict[str, Any] = {"encoding": enc, "chunk_rows": chunk_rows, "skip_header": feed.skip_header}
    if feed.fmt == "jsonl":
        return JsonLinesReader(path, columns=feed.columns or (), **kwargs)
    if feed.fmt == "whitespace":
        return WhitespaceReader(path, columns=feed.columns or (), **kwargs)
    delimiter = "\t" if feed.fmt == "tsv" else feed.delimiter
    return CsvReader(path, columns=feed.columns, delimiter=delimiter, **kwargs)


def import_file(
    wh: Warehouse,
    path: str | Path,
    *,
    adapter: str = "native",
    table: str | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    source_tz: str = "UTC",
    ts_unit: str = "s",
    keep_out_of_range: bool = False,
    progress: bool = False,
    chunk_rows: int | None = None,
) -> ImportReport:
    """Import a file (or a data-set directory) through ``adapter``; returns the balanced report."""
    if adapter not in ADAPTERS:
        raise LiveloopError(f"unknown adapter {adapter!r}: one of {', '.join(ADAPTERS)}", field="adapter")
    path = Path(path)
    if not path.exists():
        raise LiveloopError(f"file not found: {path}", field="path")
    if not (path.is_file() or path.is_dir()):  # a pipe would block forever, a device never end
        raise LiveloopError(
            f"{path} is not a regular file (a pipe or a device cannot be imported: save it to a file first)",
            field="path",
        )
    opt = make_options(wh, source_tz, ts_unit)
    ad = ADAPTERS[adapter]
    jobs = ad.resolve(path, table=table, fmt=fmt)
    options = {
        "source_tz": source_tz,
        "ts_unit": ts_unit,
        "keep_out_of_range": keep_out_of_range,
        "encoding": encoding,
    }
    import_id = start_import(wh, str(path), adapter, options)
    report = ImportReport(import_id=import_id, source=str(path), adapter=adapter)
    try:
        with bounded_memory(wh), _interrupt_between_chunks() as stop:
            _import_jobs(
                wh,
                jobs,
                report,
                opt,
                adapter=adapter,
                table=table,
                encoding=encoding,
                keep_out_of_range=keep_out_of_range,
                progress=progress,
                chunk_rows=chunk_rows,
                stop=stop,
            )
    except KeyboardInterrupt:
        finish_import(wh, report, options, "interrupted")
        raise
    except duckdb.InterruptException as exc:  # Ctrl-C while DuckDB ran a statement
        finish_import(wh, report, options, "interrupted")
        raise KeyboardInterrupt from exc
    except Exception:
        finish_import(wh, report, options, "failed")
        raise
    finish_import(wh, report, options, "done")
    if stop.is_set():  # Ctrl-C while the last chunk loaded: the import is complete, the caller stops
        raise KeyboardInterrupt
    return report


#: DuckDB's memory cap while a file is imported, so a file of any size runs in bounded memory (with
#: the chunks in Python and the key index, peak RSS stays under 1.5 GB: docs/benchmarks/ingest.md).
IMPORT_MEMORY_LIMIT = "768MB"


@contextmanager
def bounded_memory(wh: Warehouse) -> Iterator[None]:
    """Cap DuckDB's buffer memory for the block, then restore the previous setting."""
    before = wh.sql("SELECT current_setting('memory_limit')")[0][0]
    wh.sql(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
    try:
        yield
    finally:
        with suppress(Exception):
            wh.sql(f"SET memory_limit = '{before}'")


def _import_jobs(
    wh: Warehouse,
    jobs: list[tuple[Path, Feed]],
    report: ImportReport,
    opt: Any,
    *,
    adapter: str,
    table: str | None,
    encoding: str | None,
    keep_out_of_range: bool,
    progress: bool,
    chunk_rows: int | None,
    stop: threading.Event,
) -> None:
    for file, feed in jobs:
        reader = open_reader(file, feed, encoding=encoding, chunk_rows=chunk_rows or CHUNK_ROWS)
        report.files.append(str(file))
        if not reader.columns:
            report.warnings.append(f"{file.name}: empty file, nothing to import")
            continue
        try:
            targets = feed.plan(reader.columns, table)
        except LiveloopError:
            reader.close()
            raise
        _warn_ignored(report, file, feed, reader.columns, targets)
        if type(reader) is CsvReader:  # its subclasses parse otherwise and do not check ids
            reader.check_ids = id_sources(targets, reader.columns)
            reader.parse_ts = ts_sources(targets, reader.columns)
        report.encoding = report.encoding or reader.encoding
        ctx = Context(
            wh,
            report,
            source=str(file),
            tag=_tag(adapter, file),
            feed=f"{adapter}/{feed.name}",
            opt=opt,
            keep_window=keep_out_of_range,
            import_id=report.import_id,
        )
        with _progress(progress, file, reader.size) as advance, closing(prefetched(reader)) as chunks:
            run_chunks(ctx, _until(stop, chunks), targets, advance)


@contextmanager
def _interrupt_between_chunks() -> Iterator[threading.Event]:
    """While a file imports in the main thread, the first Ctrl-C stops it after the chunk in flight
    (which commits), a second one at once. Interrupted mid-statement, DuckDB and its Arrow scans turn
    the ``KeyboardInterrupt`` into their own errors, which would report the import as failed."""
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if previous is None or previous == signal.SIG_IGN:  # not the main thread, set outside Python, ignored
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


T = TypeVar("T")


def _until(stop: threading.Event, items: Iterable[T]) -> Iterator[T]:
    """``items`` until ``stop`` is set, then ``KeyboardInterrupt`` (checked before each item: an import
    whose last chunk was in flight completes)."""
    for item in items:
        if stop.is_set():
            raise KeyboardInterrupt
        yield item


def _tag(adapter: str, file: Path) -> str:
    return file.name if adapter == "native" else adapter


def _warn_ignored(
    report: ImportReport, file: Path, feed: Feed, columns: Sequence[str], targets: Sequence[Any]
) -> None:
    if not feed.name.startswith("native:") or feed.fmt == "jsonl":
        return
    known = set(targets[0].spec.names)
    extra = [c for c in columns if c not in known]
    if extra:
        report.warnings.append(f"{file.name}: ignored unknown column(s) {', '.join(extra)}")


def _progress(enabled: bool, file: Path, total: int) -> Any:
    if not enabled:
        return nullcontext(None)
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    class _Bar:
        def __enter__(self) -> Callable[[int], None]:
            self.p = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self.p.__enter__()
            task = self.p.add_task(f"importing {file.name}", total=total)
            return lambda pos: self.p.update(task, completed=pos)

        def __exit__(self, *exc: object) -> None:
            self.p.__exit__(None, None, None)

    return _Bar()


def import_arrow(
    wh: Warehouse,
    table: str,
    data: pa.Table,
    *,
    source: str,
    chunk_rows: int | None = None,
    source_tz: str = "UTC",
    ts_unit: str = "s",
) -> ImportReport:
    """Import an Arrow table of ``table``'s native columns (any types) through the same validation."""
    target = native_target(table, data.column_names)
    opt = make_options(wh, source_tz, ts_unit)
    options = {"source_tz": source_tz, "ts_unit": ts_unit}
    import_id = start_import(wh, source, "arrow", options)
    report = ImportReport(import_id=import_id, source=source, adapter="arrow")
    ctx = Context(
        wh, report, source=source, tag=source, feed=f"native/native:{table}", opt=opt, import_id=import_id
    )
    step = chunk_rows or CHUNK_ROWS
    chunks = (
        Chunk(
            data.slice(i, step).append_column(
                "_line", pa.array(range(i + 1, i + 1 + min(step, data.num_rows - i)), pa.int64())
            ),
            [],
            i + step,
        )
        for i in range(0, data.num_rows, step)
    )
    try:
        run_chunks(ctx, chunks, [target])
    except BaseException:
        finish_import(wh, report, options, "failed")
        raise
    finish_import(wh, report, options, "done")
    return report


#: Most records one API call may send (keeps memory and the transaction bounded).
MAX_RECORDS = 10_000


def ingest_records(
    wh: Warehouse, table: str, records: list[dict[str, Any]], *, source: str = "api", source_tz: str = "UTC"
) -> RecordsResult:
    """Validate and load API records; each is accepted, a duplicate, or rejected with reason and field.

    Accepted rows are committed before this returns; sending the same records again loads nothing twice
    (events by ``event_id``, other tables by their key). Times without an offset are read in ``source_tz``.
    """
    if table not in SPECS:
        raise ValidationFailed(f"unknown table {table!r}: one of {', '.join(SPECS)}", field="table")
    spec = SPECS[table]
    # only the fields some record has (and the required ones): an absent field costs validation nothing
    sent = set().union(*(r for r in records if isinstance(r, dict)))
    columns = [f.name for f in spec.fields if f.required or f.name in sent]
    return _ingest(
        wh,
        table,
        records,
        columns,
        [native_target(table, columns)],
        source,
        f"native/native:{table}",
        lambda r: r,
        source_tz,
    )


def ingest_segment(
    wh: Warehouse, messages: list[dict[str, Any]], *, source: str = "api:segment"
) -> RecordsResult:
    """Load Segment-spec messages (track/page → events, identify → users), idempotent by ``messageId``."""
    from liveloop.ingest.adapters import segment

    return _ingest(
        wh,
        "events",
        messages,
        segment.COLUMNS,
        list(segment.targets()),
        source,
        "segment/messages",
        segment.flatten,
    )


def _ingest(
    wh: Warehouse,
    table: str,
    records: list[Any],
    columns: Sequence[str],
    targets: list[Any],
    source: str,
    feed: str,
    flatten: Callable[[dict[str, Any]], dict[str, Any]],
    source_tz: str = "UTC",
) -> RecordsResult:
    if len(records) > MAX_RECORDS:
        raise ValidationFailed(
            f"too many records: {len(records)} (at most {MAX_RECORDS} per call)", field="records"
        )
    ok = [(i + 1, flatten(r)) for i, r in enumerate(records) if isinstance(r, dict)]
    data = records_table([r for _, r in ok], columns, [i for i, _ in ok])
    bad = [
        Malformed(i + 1, repr(r)[:2000], "malformed_record: a record must be a JSON object")
        for i, r in enumerate(records)
        if not isinstance(r, dict)
    ]
    report = ImportReport(import_id="", source=source, adapter="api")
    outcomes = Outcomes()
    ctx = Context(
        wh,
        report,
        source=source,
        tag=source,
        feed=feed,
        opt=make_options(wh, source_tz, "auto"),
        outcomes=outcomes,
    )
    run_chunks(ctx, [Chunk(data, bad, 0, clean=True)], targets)
    result = RecordsResult(table=table)
    for i in range(1, len(records) + 1):
        if i in outcomes.new:
            result.results.append(RecordOutcome(i - 1, "accepted", id=outcomes.new[i]))
            result.accepted += 1
        elif i in outcomes.dup:
            result.results.append(RecordOutcome(i - 1, "duplicate", id=outcomes.dup[i]))
            result.duplicates += 1
        else:
            reason, fld = outcomes.bad.get(i, ("rejected", None))
            result.results.append(RecordOutcome(i - 1, "rejected", reason=reason, field=fld))
            result.rejected += 1
    return result
