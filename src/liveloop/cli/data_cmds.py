"""Data commands: init, import, import-parquet, export, status, quarantine, labels."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.core.clock import display_time
from liveloop.core.config import get_settings
from liveloop.core.errors import LiveloopError

quarantine_app = typer.Typer(help="Rows rejected on import: list, show, retry.", no_args_is_help=True)
labels_app = typer.Typer(
    help="Label mappings applied on import (category, region, event_type, channel, gender).",
    no_args_is_help=True,
)


def init_cmd(as_json: bool = JsonOpt) -> None:
    """Create LIVELOOP_HOME, the warehouse and the PII key file (0600). Safe to run again."""
    from liveloop.core.config import get_settings
    from liveloop.warehouse import init_home

    result = init_home(get_settings())

    def render(r: dict[str, Any]) -> None:
        console.print(f"warehouse {r['warehouse']} (schema v{r['schema_version']})", markup=False)
        console.print(f"key: {r['key']}" + (f" ({r['key_file']})" if r["key_file"] else ""), markup=False)

    emit(result, as_json, render)


def import_cmd(
    paths: list[Path] = typer.Argument(None, help="Files or data-set directories to import."),
    adapter: str = typer.Option("native", "--adapter", "-a", help="Source format (see docs/data-model.md)."),
    table: str = typer.Option(
        None, "--table", "-t", help="Target table for native files (default: file name)."
    ),
    fmt: str = typer.Option(None, "--format", help="csv, tsv, jsonl or parquet (default: from the suffix)."),
    encoding: str = typer.Option(None, "--encoding", help="Text encoding, e.g. gbk (default: detected)."),
    source_tz: str = typer.Option("UTC", "--source-tz", help="Zone of timestamps that carry no offset."),
    ts_unit: str = typer.Option("s", "--ts-unit", help="Unit of numeric timestamps: s, ms, us or auto."),
    keep_out_of_range: bool = typer.Option(
        False, "--keep-out-of-range", help="Keep rows outside a data set's days."
    ),
    dataset: str = typer.Option(None, "--dataset", help="Import a public data set by name instead of paths."),
    as_json: bool = JsonOpt,
) -> None:
    """Import files: validated, de-duplicated, bad rows quarantined; rows read = loaded + dup + quar."""
    from liveloop.ingest import ImportReport, import_file

    if not paths and not dataset:
        raise LiveloopError("name files to import, or --dataset NAME", field="paths")
    progress = not as_json and console.is_terminal
    with open_warehouse() as wh:
        if dataset:
            from liveloop.datasets import import_dataset

            result: Any = import_dataset(wh, dataset, progress=progress, keep_out_of_range=keep_out_of_range)
            emit(result.to_dict(), as_json, _render_dataset)
            return
        total: ImportReport | None = None
        for path in paths:
            report = import_file(
                wh,
                path,
                adapter=adapter,
                table=table,
                fmt=fmt,
                encoding=encoding,
                source_tz=source_tz,
                ts_unit=ts_unit,
                keep_out_of_range=keep_out_of_range,
                progress=progress,
            )
            if total is None:
                total = report
            else:
                total.add(report)
        assert total is not None
        emit(total.to_dict(), as_json, _render_report)


def _render_report(r: dict[str, Any]) -> None:
    table = Table(
        "table", "loaded", "duplicates", "quarantined", title=f"import {r['import_id']} ({r['adapter']})"
    )
    for name, c in r["tables"].items():
        table.add_row(name, f"{c['loaded']:,}", f"{c['duplicates']:,}", f"{c['quarantined']:,}")
    console.print(table)
    console.print(
        f"rows read {r['rows_read']:,} = loaded {r['loaded']:,} + duplicates {r['duplicates']:,} "
        f"+ quarantined {r['quarantined']:,}",
        markup=False,
    )
    for reason, n in r["by_reason"].items():
        console.print(f"  quarantined {n:,}: {reason}", markup=False)
    if r.get("encoding") not in (None, "utf-8"):
        console.print(f"read as {r['encoding']} (pass --encoding if that is wrong)", markup=False)
    for warning in r["warnings"]:
        console.print(f"warning: {warning}", markup=False)


def _render_dataset(r: dict[str, Any]) -> None:
    for part in r.get("files", []):
        _render_report(part)
    console.print(
        f"{r.get('dataset')}: rows read {r['rows_read']:,} = loaded {r['loaded']:,} + duplicates "
        f"{r['duplicates']:,} + quarantined {r['quarantined']:,}",
        markup=False,
    )


def import_parquet_cmd(
    directory: Path = typer.Argument(..., help="A directory written by `liveloop export`."),
    as_json: bool = JsonOpt,
) -> None:
    """Load a Parquet export back (rows whose key exists are skipped)."""
    from liveloop.warehouse import import_parquet

    with open_warehouse() as wh:
        result = import_parquet(wh, directory)

    def render(r: dict[str, dict[str, int]]) -> None:
        table = Table("table", "read", "loaded", "duplicates")
        for name, c in r.items():
            table.add_row(name, f"{c['read']:,}", f"{c['loaded']:,}", f"{c['duplicates']:,}")
        console.print(table)

    emit(result, as_json, render)


def export_cmd(
    to: Path = typer.Option(..., "--to", help="Output directory (events partitioned by date)."),
    as_json: bool = JsonOpt,
) -> None:
    """Export every table to Parquet (the folder is remembered: an erasure rewrites it)."""
    from liveloop.warehouse import export_parquet

    with open_warehouse() as wh:
        counts = export_parquet(wh, to)
    emit(
        {"to": str(to), "tables": counts},
        as_json,
        lambda r: console.print(
            f"exported {sum(r['tables'].values()):,} rows of {len(r['tables'])} tables to {r['to']}",
            markup=False,
        ),
    )


def status_cmd(as_json: bool = JsonOpt) -> None:
    """Row counts, date ranges and open quarantine counts."""
    from liveloop.warehouse import warehouse_status

    with open_warehouse(read_only=True) as wh:
        status = warehouse_status(wh)

    zone = get_settings().timezone

    def shown(iso: str | None) -> str:
        return display_time(datetime.fromisoformat(iso), zone) if iso else ""

    def render(s: dict[str, Any]) -> None:
        table = Table("table", "rows", "from", "to", title=f"{s['path']} (schema v{s['schema_version']})")
        for name, e in s["tables"].items():
            table.add_row(name, f"{e['rows']:,}", shown(e.get("from")), shown(e.get("to")))
        console.print(table)
        console.print(f"times in {zone} (LIVELOOP_TIMEZONE)", markup=False)
        console.print(f"quarantine: {s['quarantine_open']:,} open rows", markup=False)
        for reason, n in s["quarantine_by_reason"].items():
            console.print(f"  {n:,}  {reason}", markup=False)

    emit(status, as_json, render)


@quarantine_app.command("list")
def quarantine_list(
    table: str = typer.Option(None, "--table", help="Only rows meant for this table."),
    status: str = typer.Option("open", "--status", help="open, resolved, or all."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    """Quarantined rows, newest first."""
    from liveloop.ingest import list_quarantine

    with open_warehouse(read_only=True) as wh:
        rows = list_quarantine(wh, status=None if status == "all" else status, table=table, limit=limit)

    def render(items: list[dict[str, Any]]) -> None:
        t = Table("id", "table", "source", "line", "reason")
        for r in items:
            t.add_row(
                str(r["quarantine_id"]),
                r["target_table"],
                Path(r["source"]).name,
                str(r["line"] or ""),
                r["reason"],
            )
        console.print(t)

    emit(rows, as_json, render)


#: Characters of a raw row shown by ``quarantine show`` (``--json`` gives the whole row).
_SHOW_RAW = 4_000


@quarantine_app.command("show")
def quarantine_show(quarantine_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """One quarantined row with its raw values and reason."""
    from liveloop.ingest import show_quarantine

    with open_warehouse(read_only=True) as wh:
        row = show_quarantine(wh, quarantine_id)

    def render(r: dict[str, Any]) -> None:
        for key, value in r.items():
            if isinstance(value, str) and len(value) > _SHOW_RAW:  # e.g. a 10 MB comment
                value = f"{value[:_SHOW_RAW]}… [{len(value):,} characters; --json prints them all]"
            console.print(f"{key}: {value}", markup=False, soft_wrap=True)

    emit(row, as_json, render)


@quarantine_app.command("retry")
def quarantine_retry(
    ids: list[int] = typer.Argument(None, help="Quarantine ids to retry."),
    all_rows: bool = typer.Option(False, "--all", help="Retry every open quarantined row."),
    keep_out_of_range: bool = typer.Option(
        False, "--keep-out-of-range", help="Accept rows outside the window."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Re-validate quarantined rows (e.g. after `liveloop labels add`); those that pass are loaded."""
    from liveloop.ingest import retry_quarantine

    if not ids and not all_rows:
        raise LiveloopError("name quarantine ids to retry, or pass --all", field="ids")
    with open_warehouse() as wh:
        report = retry_quarantine(wh, None if all_rows else list(ids), keep_out_of_range=keep_out_of_range)
    emit(
        report.to_dict(),
        as_json,
        lambda r: console.print(
            f"retried {r['rows_read']:,}: loaded {r['loaded']:,}, duplicates {r['duplicates']:,}, "
            f"still quarantined {r['quarantined']:,}",
            markup=False,
        ),
    )


@labels_app.command("add")
def labels_add(
    kind: str = typer.Argument(..., help="category, region, event_type, channel or gender."),
    raw: str = typer.Argument(..., help="The label as it appears in source files (case-insensitive)."),
    canonical: str = typer.Argument(..., help="The label to store instead."),
    as_json: bool = JsonOpt,
) -> None:
    """Map a raw label to a canonical one for future imports and quarantine retries."""
    from liveloop.ingest import add_label

    with open_warehouse() as wh:
        result = add_label(wh, kind, raw, canonical)
    emit(
        result,
        as_json,
        lambda r: console.print(f"{r['kind']}: {r['raw']!r} → {r['canonical']!r}", markup=False),
    )


@labels_app.command("list")
def labels_list(kind: str = typer.Option(None, "--kind"), as_json: bool = JsonOpt) -> None:
    """The label mappings."""
    from liveloop.ingest import list_labels

    with open_warehouse(read_only=True) as wh:
        rows = list_labels(wh, kind)

    def render(items: list[dict[str, Any]]) -> None:
        t = Table("kind", "raw", "canonical")
        for r in items:
            t.add_row(r["kind"], r["raw"], r["canonical"])
        console.print(t)

    emit(rows, as_json, render)


def examples_cmd(
    to: Path = typer.Option(Path("."), "--to", help="Folder to copy them into."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files of the same name."),
    as_json: bool = JsonOpt,
) -> None:
    """Copy the README tour's example files (lifecycle rules, events, live comments) into a folder."""
    from liveloop.examples import FILES, copy_examples

    copied = copy_examples(to, overwrite=overwrite)
    result = {"copied": [{"file": str(p), "for": FILES[p.name]} for p in copied]}

    def render(r: dict[str, Any]) -> None:
        for c in r["copied"]:
            console.print(f"{c['file']}  {c['for']}", markup=False)

    emit(result, as_json, render)


def backup_cmd(
    to: Path = typer.Option(..., "--to", help="The backup file to write (a DuckDB file)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
    as_json: bool = JsonOpt,
) -> None:
    """A consistent copy of the warehouse, also while `liveloop serve` runs (it is taken there)."""
    from liveloop.warehouse.backup import backup

    with open_warehouse() as wh:
        result = backup(wh, to, overwrite=overwrite)
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"backed up {r['rows']:,} rows of {len(r['tables'])} tables to {r['path']} "
            f"({r['bytes'] / 1e6:,.1f} MB, {r['seconds']} s)",
            markup=False,
        ),
    )


def restore_cmd(
    source: Path = typer.Argument(..., help="A file written by `liveloop backup`."),
    as_json: bool = JsonOpt,
) -> None:
    """Make a backup the warehouse (stop `liveloop serve` first); the replaced file is kept beside it."""
    from liveloop.core.config import get_settings
    from liveloop.warehouse.backup import restore

    result = restore(get_settings(), source)
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"restored {r['rows']:,} rows from {r['restored']} into {r['warehouse']}"
            + (f" (the previous file is kept as {r['kept']})" if r["kept"] else ""),
            markup=False,
        ),
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("init")(init_cmd)
    app.command("examples")(examples_cmd)
    app.command("import")(import_cmd)
    app.command("import-parquet")(import_parquet_cmd)
    app.command("export")(export_cmd)
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
    app.command("status")(status_cmd)
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(labels_app, name="labels")
