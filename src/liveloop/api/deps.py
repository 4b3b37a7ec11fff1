"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from fastapi import Request

from liveloop.warehouse import Warehouse


async def get_warehouse(request: Request) -> Warehouse:
    """The app's warehouse (opened once at start-up, shared with a lock).

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
    per request for an attribute read."""
    wh: Warehouse = request.app.state.warehouse
    return wh
