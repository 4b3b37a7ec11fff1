"""What a price row means: the one definition of "the shelf price in effect" every capability's SQL uses."""

from __future__ import annotations


def on_shelf(alias: str) -> str:
    """SQL true for a shelf price row of ``prices`` (list, festival or markdown; not a live-slot price)."""
    return f"{alias}.session_id IS NULL AND {alias}.kind <> 'slot'"


def in_effect(alias: str, at: str) -> str:
    """SQL true for a price row in effect at the SQL expression ``at``: started, and not yet ended. The
    price in effect is the latest-starting such row (``arg_max(price, start_ts)``)."""
    return f"{alias}.start_ts <= {at} AND ({alias}.end_ts IS NULL OR {alias}.end_ts > {at})"
