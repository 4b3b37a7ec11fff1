"""Budget: ``/v1/bidding/advice`` — a suggested bid per click and daily budget per audience for platform
ad tools (computed by ``liveloop.budget``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.budget import bid_advice
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["budget"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))


@router.get("/bidding/advice", dependencies=[READ], summary="Suggested bid and daily budget per audience")
async def advice(
    days: Annotated[int, Query(ge=1, le=365)] = 28,
    target_roi: Annotated[float, Query(ge=0, le=10)] = 0.3,
    paid_share: Annotated[float, Query(gt=0, le=5)] = 0.1,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: bid_advice(wh, days=days, target_roi=target_roi, paid_share=paid_share)
    )
