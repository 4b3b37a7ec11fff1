"""Measurement: ``/v1/kpis`` (KPIs at a grain over a window), ``/v1/kpis/metrics`` (the registry),
``/v1/kpis/targets`` (set, list, delete) and ``/v1/kpis/status`` (targets against the period so far)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import kpis, targets
from liveloop.analytics.penetration import penetration
from liveloop.api.deps import get_warehouse
from liveloop.core.clock import checked_time
from liveloop.core.errors import NotFound
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1/kpis", tags=["measurement"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))
WRITE = Depends(require_roles(Role.ANALYST, Role.MARKETER))
Grain = Literal["platform", "day", "host", "session", "product", "channel", "segment"]
Period = Literal["day", "week", "month"]
Key = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]


def _tz(request: Request) -> str:
    return str(request.app.state.settings.timezone)


@router.get("", dependencies=[READ], summary="KPIs per grain over a window")
async def get_kpis(
    request: Request,
    metric: Annotated[list[str] | None, Query(max_length=30)] = None,
    grain: Grain = "platform",
    start: datetime | None = None,
    end: datetime | None = None,
    session: Key = None,
    host: Key = None,
    product: Key = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    where = {
        k: v
        for k, v in {"session": session, "host": host, "product": product, "channel": channel}.items()
        if v
    }
    lo = checked_time(start, "start") if start else None
    hi = checked_time(end, "end") if end else None
    return await run_in_threadpool(
        kpis.compute, wh, metric or None, grain, start=lo, end=hi, where=where, tz=_tz(request)
    )


@router.get("/penetration", dependencies=[READ], summary="A category's penetration in each segment")
async def get_penetration(
    category: Annotated[str, Query(max_length=64)],
    start: datetime | None = None,
    end: datetime | None = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    lo = checked_time(start, "start") if start else None
    hi = checked_time(end, "end") if end else None
    return await run_in_threadpool(lambda: penetration(wh, category, start=lo, end=hi))


@router.get("/metrics", dependencies=[READ], summary="Every KPI with its formula")
def get_metrics() -> list[dict[str, Any]]:
    return [
        {
            "key": m.key,
            "name_en": m.name_en,
            "name_zh": m.name_zh,
            "numerator": m.numerator,
            "denominator": m.denominator,
            "scale": m.scale,
            "unit": m.unit,
            "higher_is_better": m.higher_is_better,
        }
        for m in kpis.METRICS.values()
    ]


class TargetIn(BaseModel):
    metric: str = Field(..., max_length=64, examples=["gmv"])
    period: Period
    target: float = Field(..., ge=0, allow_inf_nan=False)
    grain: Literal["platform", "host", "session", "product", "channel", "segment"] = "platform"
    key: str = Field("all", pattern=ID_PATTERN, max_length=128)
    low: float | None = Field(None, ge=0, allow_inf_nan=False)
    high: float | None = Field(None, ge=0, allow_inf_nan=False)
    note: str | None = Field(None, max_length=500)


@router.put("/targets", dependencies=[WRITE], summary="Set or replace a KPI target")
def put_target(request: Request, body: TargetIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    spec = targets.Target.from_dict(body.model_dump())
    return targets.set_target(wh, spec, actor=f"key:{principal_of(request).key_id}")


@router.get("/targets", dependencies=[READ], summary="Every KPI target")
def get_targets(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return targets.list_targets(wh)


@router.delete("/targets/{metric}/{period}", dependencies=[WRITE], status_code=204, summary="Remove a target")
def delete_target(
    metric: str,
    period: Period,
    grain: Grain = "platform",
    key: Annotated[str, Query(pattern=ID_PATTERN, max_length=128)] = "all",
    wh: Warehouse = Depends(get_warehouse),
) -> Response:
    if not targets.delete_target(wh, metric, period, grain, key):
        raise NotFound(f"no {period} target for {metric} ({grain} {key})", field="metric")
    return Response(status_code=204)


@router.get("/status", dependencies=[READ], summary="Targets against the period so far, with alerts")
async def get_status(
    request: Request, as_of: datetime | None = None, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    moment = checked_time(as_of, "as_of") if as_of else None
    return await run_in_threadpool(targets.status, wh, as_of=moment, tz=_tz(request))
