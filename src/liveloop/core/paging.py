"""One page of a listing, the same shape everywhere (users, products, search results)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def page(key: str, items: Sequence[Any], total: int, offset: int, limit: int) -> dict[str, Any]:
    """``{key: items, total, offset, limit, next_offset}``; ``next_offset`` is None on the last page."""
    end = offset + len(items)
    return {
        key: list(items),
        "total": total,
        "offset": offset,
        "limit": limit,
        "next_offset": end if end < total else None,
    }
