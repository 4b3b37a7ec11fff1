"""Funnels, cohorts and attribution: ``POST /v1/funnels`` (steps or a preset, window, mode, breakdown),
``GET /v1/cohorts`` (retention by first-purchase week or month), ``GET /v1/attribution``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import attribution, cohorts, funnels
from liveloop.api.deps import get_warehouse
from liveloop.core.clock import checked_time
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["measurement"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))


class FunnelIn(BaseModel):
    steps: list[str] | None = Field(
        None, min_length=2, max_length=funnels.MAX_STEPS, examples=[["view", "add_to_cart", "purchase"]]
    )
    preset: Literal["live", "lifecycle"] | None = None
    window_s: int = Field(86400, gt=0, le=funnels.MAX_WINDOW_S)
    mode: Literal["ordered", "strict", "any"] = "ordered"
    breakdown: Literal["channel", "host", "category", "segment"] | None = None
    start: datetime | None = None
    end: datetime | None = None


@router.post("/funnels", dependencies=[READ], summary="A funnel: users per step, conversion, time to convert")
async def post_funnel(body: FunnelIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    common: dict[str, Any] = {
        "window_s": body.window_s,
        "mode": body.mode,
        "breakdown": body.breakdown,
        "start": checked_time(body.start, "start") if body.start else None,
        "end": checked_time(body.end, "end") if body.end else None,
    }
    spec = funnels.FunnelSpec.of(body.steps, body.preset, **common)
    return await run_in_threadpool(funnels.run, wh, spec)


@router.get("/cohorts", dependencies=[READ], summary="Retention by first-purchase cohort")
async def get_cohorts(
    request: Request,
    period: Literal["week", "month"] = "week",
    offsets: int = Query(12, ge=1, le=cohorts.MAX_OFFSETS),
    start: datetime | None = None,
    end: datetime | None = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        cohorts.retention,
        wh,
        period=period,
        offsets=offsets,
        start=checked_time(start, "start") if start else None,
        end=checked_time(end, "end") if end else None,
        tz=str(request.app.state.settings.timezone),
    )


@router.get(
    "/attribution", dependencies=[READ], summary="Orders, GMV and cost credited per channel or campaign"
)
async def get_attribution(
    model: Literal["last", "first", "linear", "position", "markov", "all"] = "last",
    level: Literal["channel", "campaign"] = "channel",
    window_days: int = Query(7, ge=1, le=attribution.MAX_WINDOW_DAYS),
    start: datetime | None = None,
    end: datetime | None = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    common: dict[str, Any] = {
        "level": level,
        "window_days": window_days,
        "start": checked_time(start, "start") if start else None,
        "end": checked_time(end, "end") if end else None,
    }
    return await run_in_threadpool(lambda: attribution.report(wh, model, **common))
