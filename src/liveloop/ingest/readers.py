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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from liveloop.core.errors import LiveloopError

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


# -- encodings ------------------------------------------------------------------------------------
_GB = {"gb2312", "gbk", "gb18030", "hz", "big5", "cp936"}


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def detect_encoding(path: Path) -> str:
    """The file's text encoding, guessed from its start: UTF-8 (with or without BOM) or e.g. GB18030."""
    with open_binary(path) as fh:
        sample = fh.read(_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LiveloopError(f"{path.name} is UTF-16 encoded: convert it to UTF-8 first", field="encoding")
    if len(sample) == _SAMPLE and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise LiveloopError(
            f"cannot tell the text encoding of {path.name}: pass --encoding", field="encoding"
        )
    enc = best.encoding.lower().replace("_", "")
    if enc in _GB or enc.startswith("gb"):
        return "gb18030"  # superset of GB2312/GBK
    if enc.startswith("utf16") or enc.startswith("utf32"):
        raise LiveloopError(
            f"{path.name} is {best.encoding} encoded: convert it to UTF-8 first", field="encoding"
        )
    return best.encoding


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise LiveloopError(f"unknown encoding: {name}", field="encoding") from exc


# -- line blocks ----------------------------------------------------------------------------------
@dataclass
class _Block:
    data: bytes  # UTF-8, whole lines
    first_line: int
    pos: int
    oversized: list[Malformed] = field(default_factory=list)


def _line_blocks(
    fh: BinaryIO, *, first_line: int, chunk_rows: int, chunk_bytes: int, encoding: str
) -> Iterator[_Block]:
    """Whole-line blocks of at most ``chunk_rows`` lines, transcoded to UTF-8."""
    buf = b""
    eof = False
    line = first_line
    raw = getattr(fh, "fileobj", None) or fh  # compressed position of a .gz file, for progress
    utf8 = encoding in ("utf-8", "utf-8-sig", "ascii")
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
            head = buf[:4096].decode(encoding, errors="replace")
            _skip_line(fh)
            yield _Block(
                b"", line, raw.tell(), [Malformed(line, head, f"line_too_long: over {MAX_LINE >> 20} MB")]
            )
            line += 1
            buf = b""
            continue
        block, buf = buf[:cut], buf[cut:]
        pos = raw.tell() - (len(buf) if raw is fh else 0)
        n = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if not utf8:
            block = block.decode(encoding, errors="replace").encode()
        yield _Block(block, line, pos)
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
def _header(fh: BinaryIO, encoding: str, delimiter: str) -> list[str]:
    first = fh.readline()
    if not first.strip():
        return []
    text = first.decode(encoding, errors="replace").rstrip("\r\n")
    names = next(csv.reader([text], delimiter=delimiter))
    cols = [n.strip() or f"column_{i + 1}" for i, n in enumerate(names)]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise LiveloopError(f"duplicate column names in the header: {', '.join(dupes)}", field="header")
    return cols


class CsvReader:
    """Delimited text in chunks; every column read as a string, malformed lines kept verbatim."""

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
            self.columns = _header(self._fh, self.encoding, delimiter)
            first_line = 2
        else:
            if skip_header:
                self._fh.readline()
                first_line = 2
            self.columns = list(columns)
        self._blocks = _line_blocks(
            self._fh,
            first_line=first_line,
            chunk_rows=chunk_rows,
            chunk_bytes=chunk_bytes,
            encoding=self.encoding,
        )

    def __iter__(self) -> Iterator[Chunk]:
        if not self.columns:
            self._fh.close()
            return
        try:
            for block in self._blocks:
                yield self._parse(block)
        finally:
            self._fh.close()

    def _parse(self, block: _Block) -> Chunk:
        cols = self.columns
        bad: list[Malformed] = list(block.oversized)
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
        try:
            table = pcsv.read_csv(
                io.BytesIO(block.data), read_options=read, parse_options=parse, convert_options=conv
            )
        except pa.ArrowInvalid:  # e.g. invalid UTF-8 bytes: re-read with replacement characters
            bad.clear()
            skipped.clear()
            data = block.data.decode("utf-8", errors="replace").encode()
            table = pcsv.read_csv(
                io.BytesIO(data), read_options=read, parse_options=parse, convert_options=conv
            )
        lines = _line_numbers(table.num_rows, skipped) + (block.first_line - 1)
        table = table.append_column("_line", pa.array(lines, pa.int64()))
        return Chunk(_drop_blank(table, cols), bad, block.pos)


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
        bad = list(block.oversized)
        data: dict[str, list[str]] = {c: [] for c in cols}
        lines: list[int] = []
        for i, text in enumerate(block.data.decode("utf-8", errors="replace").split("\n")):
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
def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def records_table(
    records: Sequence[dict[str, Any]], columns: Sequence[str], lines: Sequence[int]
) -> pa.Table:
    """An all-string Arrow table of ``columns`` from dict records (nested values as JSON text)."""
    data = {c: pa.array([_cell(r.get(c)) for r in records], pa.string()) for c in columns}
    return pa.table({**data, "_line": pa.array(list(lines), pa.int64())})


class JsonLinesReader(CsvReader):
    """One JSON object per line; lines that are not an object are kept as malformed."""

    def __init__(self, path: Path, *, columns: Sequence[str], **kwargs: Any):
        super().__init__(path, columns=columns, **kwargs)

    def _parse(self, block: _Block) -> Chunk:
        bad = list(block.oversized)
        recs: list[dict[str, Any]] = []
        lines: list[int] = []
        for i, text in enumerate(block.data.decode("utf-8", errors="replace").split("\n")):
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
        return Chunk(records_table(recs, self.columns, lines), bad, block.pos)

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

    def __iter__(self) -> Iterator[Chunk]:
        start = 0
        for batch in self._file.iter_batches(batch_size=self.chunk_rows):
            n = batch.num_rows
            table = _nested_as_json(pa.Table.from_batches([batch])).append_column(
                "_line", pa.array(np.arange(start + 1, start + n + 1), pa.int64())
            )
            start += n
            yield Chunk(table, [], start)


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
