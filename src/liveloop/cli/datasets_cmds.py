"""``liveloop datasets list|info|load``: the public data sets, their origin, licence and checksums."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit

datasets_app = typer.Typer(help="Public data sets read from LIVELOOP_DATA_HOME (origin, licence, checksums).")


@datasets_app.command("list")
def list_cmd(as_json: bool = JsonOpt) -> None:
    """Every known data set with its adapter and file count."""
    from liveloop.datasets import catalog

    rows = [
        {"name": d.name, "summary": d.summary, "adapter": d.adapter, "files": len(d.files)}
        for d in sorted(catalog().values(), key=lambda d: d.name)
    ]

    def render(items: list[dict[str, Any]]) -> None:
        table = Table("name", "adapter", "files", "what it is")
        for row in items:
            table.add_row(row["name"], row["adapter"] or "-", str(row["files"]), row["summary"])
        console.print(table)

    emit(rows, as_json, render)


@datasets_app.command("info")
def info_cmd(
    name: str = typer.Argument(..., help="Data set name (see `liveloop datasets list`)."),
    as_json: bool = JsonOpt,
) -> None:
    """Title, canonical origin, licence, adapter and the files with their SHA-256."""
    from liveloop.datasets import info

    dataset = info(name)

    def render(d: dict[str, Any]) -> None:
        console.print(f"[bold]{d['name']}[/bold] — {d['title']}")
        for key in ("summary", "origin", "upstream", "license", "adapter"):
            console.print(f"  {key}: {d[key] or '-'}", markup=False, soft_wrap=True)
        for f in d["files"]:
            console.print(f"  {f['sha256']}  {f['name']}", markup=False, soft_wrap=True)

    emit(dataset.to_dict(), as_json, render)


@datasets_app.command("verify")
def verify_cmd(
    name: str | None = typer.Argument(None, help="Data set name; all of them when left out."),
    as_json: bool = JsonOpt,
) -> None:
    """Check files against their catalogued SHA-256; the first absent or altered file fails the command."""
    from liveloop.datasets import names, verify

    result = [
        {"dataset": n, "files": [c.to_dict() for c in verify(n)]} for n in ([name] if name else names())
    ]

    def render(items: list[dict[str, Any]]) -> None:
        for item in items:
            total = sum(f["bytes"] for f in item["files"])
            console.print(
                f"ok  {item['dataset']}: {len(item['files'])} file(s), {total:,} bytes", markup=False
            )

    emit(result, as_json, render)


@datasets_app.command("load")
def load_cmd(
    name: str = typer.Argument(..., help="Data set name (see `liveloop datasets list`)."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify the checksums, read every file and print its rows and columns."""
    from liveloop.datasets import load

    frames = load(name)
    result = {
        "dataset": name,
        "verified": True,
        "tables": [
            {"file": key, "rows": len(frame), "columns": [str(c) for c in frame.columns]}
            for key, frame in frames.items()
        ],
    }

    def render(r: dict[str, Any]) -> None:
        table = Table("file", "rows", "columns", title=f"{name}: checksums verified")
        for t in r["tables"]:
            cols = ", ".join(t["columns"])
            table.add_row(t["file"], f"{t['rows']:,}", cols if len(cols) < 90 else cols[:87] + "...")
        console.print(table)

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    """Attach ``liveloop datasets`` to the main app."""
    app.add_typer(datasets_app, name="datasets")
