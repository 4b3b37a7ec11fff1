"""Helpers shared by every command: opening the warehouse, printing human or JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from liveloop.core.config import get_settings
from liveloop.warehouse import Warehouse

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON output.")


def open_warehouse(*, read_only: bool = False) -> Warehouse:
    return Warehouse.open(get_settings(), read_only=read_only)


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=_default, ensure_ascii=False, indent=2)


def emit(obj: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print ``obj`` as JSON when asked, else through ``render`` (or pretty-printed)."""
    if as_json:
        sys.stdout.write(to_json(obj) + "\n")
    elif render is not None:
        render(obj)
    else:
        console.print(obj)
