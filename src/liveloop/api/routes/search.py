"""Search: users (id, or a phone number through the blind index), products and live sessions at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.catalog import MAX_SEARCH, search
from liveloop.api.deps import get_warehouse
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["search"])


@router.get(
    "/search",
    dependencies=[Depends(require_roles(Role.ANALYST, Role.MARKETER))],
    summary="Find users (id or phone), products (id or name) and live sessions (id or title)",
)
async def get_search(
    request: Request,
    q: Annotated[
        str,
        Query(min_length=1, max_length=MAX_SEARCH, description="a user id or phone, a product, a session"),
    ],
    limit: Annotated[int, Query(ge=1, le=50, description="at most this many of each kind")] = 10,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(search, wh, q, request.app.state.cipher, limit)
