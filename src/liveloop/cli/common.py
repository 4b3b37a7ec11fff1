"""Helpers shared by every command: opening the warehouse, printing human or JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from liveloop.cli.bridge import lent_warehouse
from liveloop.core.clock import checked_time
from liveloop.core.config import get_settings
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON output.")
EngineOpt = typer.Option(
    "duckdb",
    "--engine",
    help="duckdb (the warehouse), or spark (the warehouse exported to LIVELOOP_HOME/lake and read on "
    "$LIVELOOP_SPARK_MASTER, local[2] by default).",
)


def open_warehouse(*, read_only: bool = False) -> Warehouse:
    """The warehouse: the server's when the command runs inside ``liveloop serve`` (``cli.bridge``)."""
    return lent_warehouse() or Warehouse.open(get_settings(), read_only=read_only)


def cipher() -> Any:
    """The PII cipher of the configured home (its key file, or ``LIVELOOP_SECRET_KEY``)."""
    from liveloop.core.crypto import load_cipher

    return load_cipher(get_settings())


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


def human(value: Any) -> str:
    """A value as people read it: numbers rounded with separators, lists joined, nothing as "—"."""
    if value is None or (isinstance(value, list | tuple | dict) and not value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        number = float(value)
        return f"{number:,.2f}" if abs(number) >= 1 or number == 0 else f"{number:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {human(v)}" for k, v in value.items())
    return str(value)


def emit(obj: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print ``obj`` as JSON when asked, else through ``render`` (or one ``key: value`` line each)."""
    if as_json:
        sys.stdout.write(to_json(obj) + "\n")
    elif render is not None:
        render(obj)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            console.print(f"{key}: {human(value)}", markup=False)
    else:
        console.print(human(obj), markup=False)


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO time (no offset: the display zone) as an aware time; a clear error naming ``field``."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be an ISO 8601 time, e.g. 2026-11-11T20:00", field=field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return checked_time(moment, field)
