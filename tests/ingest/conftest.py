"""Fixtures for ingest tests: small native event files written on demand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

EVENT_HEADER = "event_id,ts,user_id,type,product_id,channel,amount,quantity,text,props"


def _event(
    eid: str,
    *,
    ts: str = "2024-05-01 10:00:00",
    user: str = "u1",
    type_: str = "view",
    amount: str = "",
    quantity: str = "",
    text: str = "",
) -> str:
    return f"{eid},{ts},{user},{type_},p1,live,{amount},{quantity},{text},"


@pytest.fixture
def ev() -> Callable[..., str]:
    """One native events CSV line: ``ev("e1", type_="purchase", amount="9.90")``."""
    return _event


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write ``lines`` (after the events header unless another is given) to a file and return its path."""

    def _write(
        name: str,
        lines: list[str],
        *,
        header: str | None = EVENT_HEADER,
        encoding: str = "utf-8",
        newline_at_end: bool = True,
    ) -> Path:
        path = tmp_path / name
        body = "\n".join(([header] if header is not None else []) + lines)
        path.write_bytes((body + ("\n" if newline_at_end else "")).encode(encoding))
        return path

    return _write
