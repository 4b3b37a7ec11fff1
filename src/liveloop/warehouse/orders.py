"""What counts as a sale: the one definition every capability's SQL uses."""

from __future__ import annotations

#: Order statuses that are not (or no longer) a sale.
NOT_SALES = ("cancelled", "failed", "refunded")


def paid(alias: str | None = None) -> str:
    """SQL true for an order that counts as a sale (``alias`` names the orders table in the query)."""
    column = f"{alias}.status" if alias else "status"
    return f"{column} NOT IN ({', '.join(repr(s) for s in NOT_SALES)})"
