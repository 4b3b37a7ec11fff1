"""liveloop's own schema: one file per table, columns named as in docs/data-model.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from liveloop.core.errors import LiveloopError
from liveloop.ingest.adapters.base import FORMATS, Adapter, Feed, require
from liveloop.ingest.schema import IMPORTABLE, SPECS
from liveloop.ingest.validate import Target, ident

_SUFFIX = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def native_target(table: str, columns: Sequence[str]) -> Target:
    """The target for a native file of ``table`` whose source columns are ``columns``."""
    if table not in SPECS:
        raise LiveloopError(
            f"cannot import into table {table!r}: importable tables are {', '.join(IMPORTABLE)}",
            field="table",
        )
    spec = SPECS[table]
    derivable = {spec.key[0]} if spec.derive_key else set()
    require(
        columns, [f.name for f in spec.fields if f.required and f.name not in derivable], f"table {table}"
    )
    mapping = {c: ident(c) for c in columns if c in spec.names}
    if table == "order_items" and "amount" not in mapping:
        mapping["amount"] = "TRY_CAST(quantity AS DECIMAL(18,2)) * TRY_CAST(unit_price AS DECIMAL(18,2))"
    return Target(spec, mapping)


def _feed(table: str, fmt: str) -> Feed:
    columns = SPECS[table].names if fmt == "jsonl" else None
    return Feed(
        name=f"native:{table}",
        fmt=fmt,
        plan=lambda cols, _t: (native_target(table, cols),),
        columns=columns,
        delimiter="\t" if fmt == "tsv" else ",",
    )


def _table_of(path: Path) -> str:
    """The table a file name names: ``events.csv``, ``events-2024-05.csv`` and ``order_items_1.jsonl``."""
    stem = path.name.split(".")[0].lower()
    for name in sorted(SPECS, key=len, reverse=True):
        if stem == name or (stem.startswith(name) and not stem[len(name)].isalpha()):
            return name
    return stem


def _kind(path: Path) -> str | None:
    return _SUFFIX.get(Path(path.name.removesuffix(".gz")).suffix.lower())


class NativeAdapter(Adapter):
    """Resolves the table from ``--table`` or the file name (``events.csv`` → events)."""

    def resolve(
        self, path: Path, *, table: str | None = None, fmt: str | None = None
    ) -> list[tuple[Path, Feed]]:
        files = sorted(f for f in path.iterdir() if f.is_file() and _kind(f)) if path.is_dir() else [path]
        if not files:
            raise LiveloopError(f"no CSV, JSON lines or Parquet files in {path}", field="path")
        jobs = []
        for f in files:
            name = table or _table_of(f)
            kind = fmt or _kind(f)
            if kind not in FORMATS:
                raise LiveloopError(
                    f"cannot tell the format of {f.name}: pass --format csv|jsonl|parquet", field="format"
                )
            if name not in SPECS:
                raise LiveloopError(
                    f"which table does {f.name} hold? pass --table ({', '.join(IMPORTABLE)})", field="table"
                )
            jobs.append((f, _feed(name, kind)))
        return jobs


NATIVE = NativeAdapter(
    name="native",
    description="liveloop's documented CSV / JSON lines / Parquet schema, one file per table",
    feeds=(),
)
