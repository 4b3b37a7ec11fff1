"""Chunked readers: CSV, JSON lines, Parquet, whitespace tables and Segment batches.

Each yields :class:`Chunk` objects of bounded size: an Arrow table of the source columns plus
``_line`` (the 1-based line or row number), the lines that could not be parsed at all (kept with
their raw text for quarantine) and the bytes consumed so far (for the progress bar).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import queue
import threading
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from liveloop.core.errors import LiveloopError
from liveloop.core.text import storable
from liveloop.ingest.validate import ID_BYTES, ID_MAX, PARSED_TS, WELL_FORMED_IDS, clean_text

#: Default rows per chunk (one transaction each) and bytes read at a time.
CHUNK_ROWS = 500_000
CHUNK_BYTES = 32 << 20
#: A single line longer than this is quarantined (truncated) instead of parsed.
MAX_LINE = 64 << 20
_SAMPLE = 256 << 10


@dataclass
class Malformed:
    line: int
    raw: str
    reason: str


@dataclass
class Chunk:
    table: pa.Table  # source columns (strings or native types) + _line (int64)
    malformed: list[Malformed] = field(default_factory=list)
    pos: int = 0  # bytes (or rows, for Parquet) consumed so far
    clean: bool = False  # every column is VARCHAR cleaned by ``clean_text`` (built by ``records_table``)
    ids_ok: frozenset[str] = frozenset()  # columns whose every value is empty or an id (``WELL_FORMED_IDS``)
    # columns beside which the table holds their timestamps as parsed by the reader (``PARSED_TS``)
    ts_parsed: frozenset[str] = frozenset()

    @property
    def source_columns(self) -> list[str]:
        """The columns read from the source (without ``_line`` and the reader's parses)."""
        added = {"_line", *(PARSED_TS.format(c) for c in self.ts_parsed)}
        return [c for c in self.table.column_names if c not in added]


T = TypeVar("T")


def prefetched(items: Iterable[T], depth: int = 1) -> Generator[T, None, None]:
    """``items``, read by a background thread at most ``depth`` ahead of the caller.

    Reading and parsing the next chunk (pyarrow and NumPy release the GIL) then overlaps the caller's
    work on the current one (DuckDB releases it too). The thread starts an item only when fewer than
    ``depth`` wait, so memory holds the caller's chunk and ``depth`` more. The reader's errors reach the
    caller in order. When the caller stops early (an error, Ctrl-C), close this generator (e.g.
    ``contextlib.closing``): the thread stops after the item in hand and closes the reader's iterator.
    """
    box: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        it: Iterator[T] | None = None
        try:
            it = iter(items)
            while True:
                while not room.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    item = next(it)
                except StopIteration:
                    box.put(("done", None))
                    return
                box.put(("item", item))
        except BaseException as exc:  # handed to the caller, raised there
            box.put(("error", exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # a reader's generator closes its file

    worker = threading.Thread(target=produce, name="liveloop-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            room.release()
            yield value
    finally:
        stop.set()
        worker.join()


# -- encodings ------------------------------------------------------------------------------------
_GB = {"gb2312", "gbk", "gb18030", "hz", "cp936"}
#: Encodings whose bytes pass to the readers as they are (the readers check them).
_UTF8 = ("utf-8", "utf-8-sig", "ascii")
#: Share of a sample's non-ASCII characters that must be common Chinese (GB2312) to read it as GB18030.
_GB_SHARE = 0.5


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def detect_encoding(path: Path) -> str:
    """The file's text encoding, guessed from its first 256 KB.

    Chinese sources are the norm, so: a BOM decides; else UTF-8 when most lines with non-ASCII bytes
    decode as UTF-8 (valid UTF-8 rarely happens by chance); else GB18030 (a superset of GB2312/GBK) when
    most decode so and read as Chinese; only then ``charset-normalizer``, whose guesses on short samples
    are unreliable (a one-line GBK file reads as cp1250). Lines that do not decode under the chosen
    encoding are quarantined as ``invalid_encoding``. ``--encoding`` overrides all this.
    """
    with open_binary(path) as fh:
        sample = fh.read(_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LiveloopError(f"{path.name} is UTF-16 encoded: convert it to UTF-8 first", field="encoding")
    whole = len(sample) < _SAMPLE
    if not whole and b"\n" in sample:
        sample, whole = sample[: sample.rindex(b"\n") + 1], True
    lines = [line for line in sample.split(b"\n") if not line.isascii()]
    if not lines:
        return "utf-8"
    last = len(lines) - 1
    utf8 = [_decoded(line, "utf-8", whole or i < last) for i, line in enumerate(lines)]
    if 2 * sum(t is not None for t in utf8) >= len(lines):
        return "utf-8"
    gb = [_decoded(line, "gb18030", whole or i < last) for i, line in enumerate(lines)]
    read = [t for t in gb if t is not None]
    if 2 * len(read) >= len(lines) and _reads_as_chinese("".join(read)):
        return "gb18030"
    return _guess(path, sample)


def _decoded(data: bytes, encoding: str, whole: bool) -> str | None:
    """``data`` decoded, or None; data cut mid-line may end inside a character."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=whole)
    except UnicodeDecodeError:
        return None


def _reads_as_chinese(text: str) -> bool:
    """Whether most non-ASCII characters are common Chinese ones (Latin-1 text rarely decodes so)."""
    wide = [c for c in text if ord(c) > 127][:20_000]
    common = 0
    for c in wide:
        try:
            c.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return bool(wide) and common >= _GB_SHARE * len(wide)


def _guess(path: Path, sample: bytes) -> str:
    from charset_normalizer import from_bytes

    for match in from_bytes(sample):
        enc = match.encoding.lower().replace("_", "")
        if enc.startswith(("utf16", "utf32")):
            if b"\x00" not in sample:  # UTF-16/32 text without a BOM is full of NUL bytes
                continue
            raise LiveloopError(
                f"{path.name} is {match.encoding} encoded: convert it to UTF-8 first", field="encoding"
            )
        return "gb18030" if enc in _GB or enc.startswith("gb") else match.encoding
    raise LiveloopError(f"cannot tell the text encoding of {path.name}: pass --encoding", field="encoding")


def decode_lines(data: bytes, encoding: str, first_line: int) -> tuple[str, list[Malformed]]:
    """``data`` (whole lines) decoded; a line that does not decode is left blank and returned as malformed.

    Nothing is replaced silently: the line goes to quarantine as ``invalid_encoding`` with its bytes
    escaped (``\\xba``), so the counts still balance and the row can be found and fixed.
    """
    parts: list[str] = []
    bad: list[Malformed] = []
    pos, line, counted = 0, first_line, 0
    while True:
        try:
            parts.append(data[pos:].decode(encoding))
            return "".join(parts), bad
        except UnicodeDecodeError as exc:
            at = pos + exc.start
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            parts.append(data[pos:start].decode(encoding))
            line += data.count(b"\n", counted, start)
            counted = start
            raw = data[start:end].rstrip(b"\r")
            bad.append(
                Malformed(
                    line,
                    raw.decode(encoding, errors="backslashreplace"),
                    _bad_bytes(raw, at - start, encoding),
                )
            )
            pos = end  # the newline stays: the line is now blank, so later line numbers hold


def _bad_bytes(raw: bytes, at: int, encoding: str) -> str:
    hint = "--encoding NAME (the file's encoding)"
    for other in ("utf-8", "gb18030"):
        if other != codecs.lookup(encoding).name and _decoded(raw, other, True) is not None:
            hint = f"--encoding {other} (the line reads as {other})"
            break
    return (
        f"invalid_encoding: byte {at + 1} (0x{raw[at]:02x}) is not valid {encoding}; "
        f"fix the file or import these lines with {hint}"
    )


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise LiveloopError(f"unknown encoding: {name}", field="encoding") from exc


# -- line blocks ----------------------------------------------------------------------------------
@dataclass
class _Block:
    data: bytes  # whole lines, UTF-8 (or, for UTF-8 sources, not yet checked: see ``decode_lines``)
    first_line: int
    pos: int
    malformed: list[Malformed] = field(default_factory=list)  # over-long and undecodable lines
    lines: int = 0  # lines in ``data`` (the last may lack its newline)


def _line_blocks(
    fh: BinaryIO, *, first_line: int, chunk_rows: int, chunk_bytes: int, encoding: str
) -> Iterator[_Block]:
    """Whole-line blocks of at most ``chunk_rows`` lines, transcoded to UTF-8.

    Lines that do not decode under ``encoding`` are blanked and kept as malformed; UTF-8 blocks pass
    unchecked (each reader checks them) and may still hold invalid bytes.
    """
    buf = b""
    eof = False
    line = first_line
    raw = getattr(fh, "fileobj", None) or fh  # compressed position of a .gz file, for progress
    utf8 = encoding in _UTF8
    while True:
        while not eof and len(buf) < chunk_bytes:
            data = fh.read(chunk_bytes)
            if not data:
                eof = True
            buf += data
        if not buf:
            return
        lines = buf.count(b"\n")
        if lines >= chunk_rows:  # only then find where the chunk_rows-th line ends
            cut = int(np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)[chunk_rows - 1]) + 1
        elif lines:
            cut = len(buf) if eof else buf.rindex(b"\n") + 1
        elif eof:
            cut = len(buf)
        else:  # one line longer than the buffer
            if len(buf) < MAX_LINE:
                more = fh.read(chunk_bytes)
                eof = not more
                buf += more
                continue
            head = buf[:4096].decode(encoding, errors="backslashreplace")
            _skip_line(fh)
            yield _Block(
                b"", line, raw.tell(), [Malformed(line, head, f"line_too_long: over {MAX_LINE >> 20} MB")]
            )
            line += 1
            buf = b""
            continue
        block, buf = buf[:cut], buf[cut:]
        pos = raw.tell() - (len(buf) if raw is fh else 0)
        n = min(lines, chunk_rows) + (0 if block.endswith(b"\n") else 1)  # the newlines up to the cut
        bad: list[Malformed] = []
        if not utf8:
            try:
                block = block.decode(encoding).encode()
            except UnicodeDecodeError:
                text, bad = decode_lines(block, encoding, line)
                block = text.encode()
        yield _Block(block, line, pos, bad, n)
        line += n


def _skip_line(fh: BinaryIO) -> None:
    while True:
        data = fh.read(1 << 20)
        if not data:
            return
        i = data.find(b"\n")
        if i >= 0:
            fh.seek(i + 1 - len(data), io.SEEK_CUR)
            return


def _open_text(path: Path, encoding: str | None) -> tuple[BinaryIO, str]:
    enc = check_encoding(encoding) if encoding else detect_encoding(path)
    fh = open_binary(path)
    if fh.read(3) != codecs.BOM_UTF8:
        fh.seek(0)
    return fh, ("utf-8" if enc in ("utf-8-sig", "utf_8") else enc)


def _line_numbers(n: int, skipped: Sequence[int]) -> np.ndarray:
    """Local 1-based line numbers of ``n`` parsed rows, given the local numbers of skipped lines."""
    k = np.arange(1, n + 1, dtype=np.int64)
    if not skipped:
        return k
    inv = np.sort(np.asarray(skipped, dtype=np.int64))
    lines = k
    while True:
        new = k + np.searchsorted(inv, lines, side="right")
        if np.array_equal(new, lines):
            return lines
        lines = new


# -- CSV ------------------------------------------------------------------------------------------
#: Limits of a header line: longer or wider is not a table liveloop can import (and reading it whole
#: would take unbounded memory: a file of NUL bytes has no line end at all).
MAX_HEADER_BYTES = 1 << 20
MAX_COLUMNS = 4096


def _header(fh: BinaryIO, encoding: str, delimiter: str, name: str) -> list[str]:
    first = fh.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES:
        raise LiveloopError(
            f"the header line of {name} is longer than {MAX_HEADER_BYTES >> 20} MB: not a delimited text "
            "file?",
            field="header",
        )
    if not first.strip(b" \t\r\n\x00"):
        return []
    try:
        text = first.decode(encoding).rstrip("\r\n")
        names = next(csv.reader([text], delimiter=delimiter))
    except UnicodeDecodeError:
        raise LiveloopError(
            f"the header line of {name} is not valid {encoding}: pass the file's --encoding", field="encoding"
        ) from None
    except csv.Error as exc:
        raise LiveloopError(f"the header line of {name} cannot be read: {exc}", field="header") from None
    if len(names) > MAX_COLUMNS:
        raise LiveloopError(f"{name} has {len(names):,} columns (at most {MAX_COLUMNS:,})", field="header")
    cols = [n.strip() or f"column_{i + 1}" for i, n in enumerate(names)]
    dupes = sorted(c for c, n in Counter(cols).items() if n > 1)
    if dupes:
        raise LiveloopError(f"duplicate column names in the header: {', '.join(dupes)}", field="header")
    return cols


class CsvReader:
    """Delimited text in chunks; every column read as a string, malformed lines kept verbatim.

    ``check_ids`` (set before iterating) names columns to check for ids with Arrow, here in the reader
    (thread) rather than per row in the validation query: see ``Chunk.ids_ok``. ``parse_ts`` likewise
    names columns whose timestamps Arrow parses here (``Chunk.ts_parsed``).
    """

    check_ids: Sequence[str] = ()
    parse_ts: Sequence[str] = ()

    def __init__(
        self,
        path: Path,
        *,
        columns: Sequence[str] | None = None,
        delimiter: str = ",",
        encoding: str | None = None,
        chunk_rows: int = CHUNK_ROWS,
        chunk_bytes: int = CHUNK_BYTES,
        skip_header: bool = False,
    ):
        self.path = path
        self.size = path.stat().st_size
        self._fh, self.encoding = _open_text(path, encoding)
        self.delimiter = delimiter
        first_line = 1
        if columns is None:
            try:
                self.columns = _header(self._fh, self.encoding, delimiter, path.name)
            except LiveloopError:
                self._fh.close()
                raise
            first_line = 2
        else:
            if skip_header:
                self._fh.readline(MAX_HEADER_BYTES)
                first_line = 2
            self.columns = list(columns)
        self._blocks = _line_blocks(
            self._fh,
            first_line=first_line,
            chunk_rows=chunk_rows,
            chunk_bytes=chunk_bytes,
            encoding=self.encoding,
        )
        if not self.columns:  # an empty file: nothing to read
            self._fh.close()

    def close(self) -> None:
        """Release the file (iterating to the end does so too)."""
        self._fh.close()

    def __iter__(self) -> Iterator[Chunk]:
        if not self.columns:
            return
        try:
            for block in self._blocks:
                yield self._parse(block)
        finally:
            self._fh.close()

    def _parse(self, block: _Block) -> Chunk:
        cols = self.columns
        bad: list[Malformed] = list(block.malformed)
        skipped: list[int] = []

        def handler(row: Any) -> str:
            local = int(row.number) if row.number is not None else 0
            skipped.append(local)
            text = row.text or ""
            if text.strip():
                bad.append(
                    Malformed(
                        block.first_line + local - 1,
                        text,
                        f"malformed_row: expected {row.expected_columns} fields, got {row.actual_columns}",
                    )
                )
            return "skip"

        if not block.data:
            return Chunk(_empty(cols), bad, block.pos)
        read = pcsv.ReadOptions(column_names=cols, use_threads=False, block_size=len(block.data) + 1024)
        parse = pcsv.ParseOptions(
            delimiter=self.delimiter, invalid_row_handler=handler, ignore_empty_lines=False
        )
        conv = pcsv.ConvertOptions(column_types={c: pa.string() for c in cols}, strings_can_be_null=False)
        data, base = block.data, list(block.malformed)
        if self.encoding in _UTF8 and not _valid_utf8(data):  # (other encodings were transcoded)
            text, undecodable = decode_lines(data, "utf-8", block.first_line)
            data, base = text.encode(), [*base, *undecodable]
            bad[:] = base
        table: pa.Table | None = None
        with suppress(pa.ArrowInvalid):
            table = pcsv.read_csv(
                pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=conv
            )
        if table is None or table.num_rows + len(skipped) != block.lines or _bare_cr(data):
            # pyarrow joined lines (a quote left open, a quoted value spanning lines) or split one at a
            # lone CR: go line by line, so that every line is one row and line numbers stay exact
            return self._parse_lines(data, block, base)
        lines = _line_numbers(table.num_rows, skipped) + (block.first_line - 1)
        table = _drop_blank(table.append_column("_line", pa.array(lines, pa.int64())), cols)
        ids_ok = _ids_ok(table, self.check_ids)
        table, parsed = _parse_ts(table, self.parse_ts)
        return Chunk(table, bad, block.pos, ids_ok=ids_ok, ts_parsed=parsed)

    def _parse_lines(self, data: bytes, block: _Block, bad: list[Malformed]) -> Chunk:
        """The exact, slower path: each line parsed on its own, as values may not span lines."""
        cols = self.columns
        values: list[list[str]] = [[] for _ in cols]
        lines: list[int] = []
        bad = list(bad)
        for i, raw in enumerate(data.decode().split("\n")):
            text = raw.removesuffix("\r")
            if not text.strip():
                continue
            line = block.first_line + i
            try:
                fields = next(csv.reader([text], delimiter=self.delimiter, strict=True))
            except csv.Error as exc:
                bad.append(Malformed(line, text, f"malformed_row: {_csv_problem(exc)}"))
                continue
            if len(fields) != len(cols):
                bad.append(
                    Malformed(line, text, f"malformed_row: expected {len(cols)} fields, got {len(fields)}")
                )
                continue
            for column, value in zip(values, fields, strict=True):
                column.append(value)
            lines.append(line)
        table = pa.table(
            {
                **{c: pa.array(v, pa.string()) for c, v in zip(cols, values, strict=True)},
                "_line": pa.array(lines, pa.int64()),
            }
        )
        return Chunk(_drop_blank(table, cols), bad, block.pos)


def _ids_ok(table: pa.Table, columns: Sequence[str]) -> frozenset[str]:
    """Of string ``columns``, those whose every value is empty or a well-formed id (``WELL_FORMED_IDS``)."""
    return frozenset(c for c in columns if all(_all_ids(a) for a in table[c].chunks))


#: The bytes an id may hold, for ``bytes.translate`` (which deletes them: ids leave nothing).
_ID_BYTES = bytes(sorted(ID_BYTES))


def _all_ids(values: pa.Array) -> bool:
    """Whether every value of a string array is empty or an id: the values' data holds only id bytes and
    no value is longer than ``ID_MAX`` (``bytes.translate``, measured ~10x cheaper than the regular
    expression, which stays for arrays with nulls, whose slots may hold any bytes)."""
    if values.null_count or not pa.types.is_string(values.type):
        return pc.all(pc.match_substring_regex(values, WELL_FORMED_IDS)).as_py() is not False
    if not len(values):
        return True
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[values.offset : values.offset + len(values) + 1]
    if int(np.diff(offsets).max()) > ID_MAX:
        return False
    start, end = int(offsets[0]), int(offsets[-1])
    return start == end or not bytes(memoryview(data_buf)[start:end]).translate(None, _ID_BYTES)


#: The one timestamp shape Arrow parses for the validation query: ``YYYY-MM-DD HH:MM:SS`` (or ``T``), each
#: field in its range (Arrow refuses 24:00:00, which DuckDB reads as the next day).
_TS_SHAPE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"


def _parse_ts(table: pa.Table, columns: Sequence[str]) -> tuple[pa.Table, frozenset[str]]:
    """``table`` with, beside each string column of ``columns``, ``PARSED_TS``: its naive timestamps of
    the common shape parsed by Arrow (NULL for any other value, which the validation query parses).

    Where Arrow parses a value DuckDB's cast gives the same time (tests/ingest compare them); a column
    with a value of the shape Arrow refuses (a 30 February) is left to the validation query whole."""
    done: list[str] = []
    for c in columns:
        name = PARSED_TS.format(c)
        if name in table.column_names or not pa.types.is_string(table[c].type):
            continue
        values = table[c]
        try:  # a length check is cheap; the rare odd value of 19 characters is caught below
            parsed = _cast_where(values, pc.equal(pc.binary_length(values), 19))
        except pa.ArrowInvalid:
            try:  # some value of 19 characters is not a time of that shape: parse the ones that are
                parsed = _cast_where(values, pc.match_substring_regex(values, _TS_SHAPE))
            except pa.ArrowInvalid:  # a value of the shape that is no time (30 February)
                continue
        table = table.append_column(name, parsed)
        done.append(c)
    return table, frozenset(done)


def _cast_where(values: Any, shaped: Any) -> Any:
    """``values`` cast to timestamps where ``shaped``, NULL elsewhere (raises ``ArrowInvalid``)."""
    return pc.cast(pc.if_else(shaped, values, pa.scalar(None, pa.string())), pa.timestamp("us"))


def _valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow without copying (a few ms for 32 MB)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(
            pa.large_string()
        )
    except pa.ArrowInvalid:
        return False
    return True


def _bare_cr(data: bytes) -> bool:
    """Whether ``data`` holds a lone CR (pyarrow ends a row there, shifting the line numbers).

    Exact for LF files (one search); in CRLF files a lone CR still shows as one row too many, and is
    missed only if a quote left open in the same chunk joins exactly as many lines as lone CRs split.
    """
    i = data.find(b"\r")
    return i >= 0 and data[i + 1 : i + 2] != b"\n"


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "end of data" in text:
        return "a quote is not closed on this line (values may not span lines)"
    if "new-line" in text:
        return "a line break (CR) inside a value (values may not span lines)"
    return text


def _utf8_lines(block: _Block) -> tuple[str, list[Malformed]]:
    """The block's text and its malformed lines (undecodable lines included, left blank)."""
    text, bad = decode_lines(block.data, "utf-8", block.first_line)
    return text, [*block.malformed, *bad]


def _empty(cols: Sequence[str]) -> pa.Table:
    return pa.table({**{c: pa.array([], pa.string()) for c in cols}, "_line": pa.array([], pa.int64())})


def _drop_blank(table: pa.Table, cols: Sequence[str]) -> pa.Table:
    """Blank lines are not rows: drop those whose every field is empty."""
    import pyarrow.compute as pc

    if table.num_rows == 0 or not pc.any(pc.equal(table[cols[0]], "")).as_py():
        return table  # the usual case: no row starts with an empty field
    nonblank = None
    for c in cols:
        m = pc.not_equal(pc.utf8_length(pc.utf8_trim_whitespace(table[c])), 0)
        nonblank = m if nonblank is None else pc.or_(nonblank, m)
    return table.filter(nonblank)


# -- whitespace-separated text -------------------------------------------------------------------
class WhitespaceReader(CsvReader):
    """Columns separated by runs of spaces or tabs (e.g. CDNOW_master.txt)."""

    def __init__(self, path: Path, *, columns: Sequence[str], **kwargs: Any):
        super().__init__(path, columns=columns, **kwargs)

    def _parse(self, block: _Block) -> Chunk:
        cols = self.columns
        body, bad = _utf8_lines(block)
        data: dict[str, list[str]] = {c: [] for c in cols}
        lines: list[int] = []
        for i, text in enumerate(body.split("\n")):
            parts = text.split()
            if not parts:
                continue
            if len(parts) != len(cols):
                bad.append(
                    Malformed(
                        block.first_line + i,
                        text,
                        f"malformed_row: expected {len(cols)} fields, got {len(parts)}",
                    )
                )
                continue
            for c, v in zip(cols, parts, strict=True):
                data[c].append(v)
            lines.append(block.first_line + i)
        table = pa.table(
            {**{c: pa.array(v, pa.string()) for c, v in data.items()}, "_line": pa.array(lines, pa.int64())}
        )
        return Chunk(table, bad, block.pos)


# -- JSON lines -----------------------------------------------------------------------------------
def _finite(value: Any) -> Any:
    """``value`` with NaN and ±Infinity (which JSON cannot hold) as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_text(value: Any) -> str:
    """Valid JSON text of a nested value (Python's parser accepts NaN, which DuckDB's JSON refuses)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(storable(value))
    if isinstance(value, dict | list):
        return storable(_json_text(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean_text(str(value))


def records_table(
    records: Sequence[dict[str, Any]], columns: Sequence[str], lines: Sequence[int]
) -> pa.Table:
    """An all-string Arrow table of ``columns`` from dict records (nested values as JSON text), each value
    cleaned as validation would (``clean_text``): chunks of it are marked ``Chunk.clean``."""
    data = {c: pa.array([_cell(r.get(c)) for r in records], pa.string()) for c in columns}
    return pa.table({**data, "_line": pa.array(list(lines), pa.int64())})


class JsonLinesReader(CsvReader):
    """One JSON object per line; lines that are not an object are kept as malformed."""

    def __init__(self, path: Path, *, columns: Sequence[str], **kwargs: Any):
        super().__init__(path, columns=columns, **kwargs)

    def _parse(self, block: _Block) -> Chunk:
        body, bad = _utf8_lines(block)
        recs: list[dict[str, Any]] = []
        lines: list[int] = []
        for i, text in enumerate(body.split("\n")):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(
                    Malformed(block.first_line + i, text, f"malformed_json: {exc.msg} at column {exc.colno}")
                )
                continue
            if not isinstance(obj, dict):
                bad.append(
                    Malformed(block.first_line + i, text, "malformed_json: a line must hold one JSON object")
                )
                continue
            recs.append(self.flatten(obj))
            lines.append(block.first_line + i)
        return Chunk(records_table(recs, self.columns, lines), bad, block.pos, clean=True)

    @staticmethod
    def flatten(obj: dict[str, Any]) -> dict[str, Any]:
        return obj


# -- Parquet --------------------------------------------------------------------------------------
class ParquetReader:
    """Row groups in batches of ``chunk_rows``; columns keep their Parquet types."""

    encoding = None

    def __init__(self, path: Path, *, chunk_rows: int = CHUNK_ROWS, **_: Any):
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise LiveloopError(f"{path.name} is not a readable Parquet file: {exc}", field="path") from exc
        self.columns = list(self._file.schema_arrow.names)
        self.size = self._file.metadata.num_rows
        self.chunk_rows = chunk_rows

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Chunk]:
        start = 0
        try:
            for batch in self._file.iter_batches(batch_size=self.chunk_rows):
                n = batch.num_rows
                table = _nested_as_json(pa.Table.from_batches([batch])).append_column(
                    "_line", pa.array(np.arange(start + 1, start + n + 1), pa.int64())
                )
                start += n
                yield Chunk(table, [], start)
        finally:
            self.close()


def _nested_as_json(table: pa.Table) -> pa.Table:
    """List, struct and map columns as JSON text (what the JSON and list columns parse)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_nested(f.type):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in table.column(i).to_pylist()
            ]
            table = table.set_column(i, f.name, pa.array(values, pa.string()))
    return table


Reader = CsvReader | ParquetReader
