"""Budget: ``/v1/budget`` — paid-media spend in, each channel's response curve (carry-over, saturation),
budget plans allocated over the channels and their spend to date (``liveloop.budget``); and
``/v1/bidding/advice`` — a suggested bid per click and daily budget per audience for platform ad tools."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.budget import bid_advice
from liveloop.budget import plans as budget_plans
from liveloop.budget.spend import record_spend
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["budget"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))
FEED = Depends(require_roles(Role.MARKETER, Role.INGEST))  # ad platforms' daily reports come by integration
PlanId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


def _tz(request: Request) -> str:
    return str(request.app.state.settings.timezone)


class SpendRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    channel: str = Field(..., pattern=ID_PATTERN, max_length=64)
    spend: float = Field(..., ge=0, le=1e10, description="CNY that day on that channel")
    source: str | None = Field(None, max_length=200)
    currency: str | None = Field(None, max_length=8, description="CNY (anything else is refused)")


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[SpendRow] = Field(..., min_length=1, max_length=10_000)


class PlanIn(BaseModel):
    """A total for the period, or a target ROI (the largest budget whose extra GMV per CNY meets it), or
    neither: last period's daily spend over the days, split anew."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    total: float | None = Field(None, gt=0, le=1e12, description="CNY for the whole period")
    target_roi: float | None = Field(None, gt=0, le=100, description="extra GMV per CNY, instead of a total")
    days: int = Field(7, ge=1, le=366)
    starts: date | None = Field(None, description="first day (default: tomorrow, shop time)")
    low: float = Field(0.7, ge=0, le=1, description="lowest daily spend per channel, × its last 28 days")
    high: float = Field(1.5, ge=1, le=10, description="highest daily spend per channel, × its last 28 days")


@router.post("/budget/spend", dependencies=[FEED], summary="Record daily paid-media spend per channel")
async def spend(body: SpendIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    rows = [r.model_dump(exclude_none=True) for r in body.rows]
    return await run_in_threadpool(lambda: record_spend(wh, rows, source="api"))


@router.get("/budget/model", dependencies=[READ], summary="Each channel's response curve, fitted now")
async def model(
    request: Request,
    days: Annotated[int | None, Query(ge=28, le=1096)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    tz = _tz(request)
    return await run_in_threadpool(
        lambda: budget_plans.describe_model(budget_plans.fit_model(wh, tz, days=days))
    )


@router.post("/budget/plans", status_code=201, dependencies=[WRITE], summary="Allocate a budget")
async def create(request: Request, body: PlanIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    tz = _tz(request)
    actor = f"key:{principal_of(request).key_id}"
    return await run_in_threadpool(
        lambda: budget_plans.create_plan(
            wh,
            tz,
            name=body.name,
            starts=body.starts or budget_plans.default_start(tz),
            days=body.days,
            total=body.total,
            target_roi=body.target_roi,
            low=body.low,
            high=body.high,
            actor=actor,
        )
    )


@router.get("/budget/plans", dependencies=[READ], summary="Budget plans, newest first")
async def plans(
    limit: Annotated[int, Query(ge=1, le=500)] = 50, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return {"items": await run_in_threadpool(lambda: budget_plans.list_plans(wh, limit=limit))}


@router.get("/budget/plans/{plan_id}", dependencies=[READ], summary="A plan and its spend to date")
async def plan(request: Request, plan_id: PlanId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    tz = _tz(request)
    return await run_in_threadpool(lambda: budget_plans.get_plan(wh, plan_id, tz=tz))


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
