"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from fastapi import Request

from liveloop.warehouse import Warehouse


def get_warehouse(request: Request) -> Warehouse:
    """The app's warehouse (opened once at start-up, shared with a lock)."""
    wh: Warehouse = request.app.state.warehouse
    return wh
