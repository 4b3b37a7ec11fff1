"""Forecasts: ``/v1/forecasts`` (sales per product, category, host or platform with quantiles),
``/v1/forecasts/backtest`` (how well they did on past periods) and ``/v1/forecasts/stock`` (the stock a
live session needs at a service level)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import demand, forecast_service
from liveloop.api.deps import get_warehouse
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["forecasts"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))
By = Annotated[Literal["product", "category", "host", "platform"], Query()]
Measure = Annotated[Literal["gmv", "units"], Query()]
Horizon = Annotated[int, Query(ge=1, le=366, description="periods ahead (days or weeks)")]
Freq = Annotated[Literal["D", "W"], Query(description="D: daily, W: weekly (Monday start)")]
Ids = Annotated[list[str] | None, Query(alias="id", max_length=forecast_service.MAX_SERIES)]
Top = Annotated[int, Query(ge=1, le=forecast_service.MAX_SERIES, description="the keys that sold most")]


@router.get("/forecasts", dependencies=[READ], summary="Sales forecasts with quantiles")
async def forecasts(
    by: By = "category",
    measure: Measure = "gmv",
    horizon: Horizon = 7,
    freq: Freq = "D",
    ids: Ids = None,
    top: Top = forecast_service.DEFAULT_TOP,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        forecast_service.sales_forecast, wh, by, measure, horizon, freq=freq, ids=ids, top=top
    )


@router.get("/forecasts/backtest", dependencies=[READ], summary="Rolling-origin backtest of the forecasts")
async def backtest(
    by: By = "category",
    measure: Measure = "gmv",
    horizon: Horizon = 7,
    freq: Freq = "D",
    origins: Annotated[int, Query(ge=1, le=12)] = 4,
    ids: Ids = None,
    top: Top = forecast_service.DEFAULT_TOP,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        forecast_service.sales_backtest,
        wh,
        by,
        measure,
        horizon,
        freq=freq,
        origins=origins,
        ids=ids,
        top=top,
    )


@router.get("/forecasts/stock", dependencies=[READ], summary="Stock per product for a live session")
async def stock(
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    products: Annotated[list[str] | None, Query(alias="product", max_length=200)] = None,
    day: date | None = None,
    service_level: Annotated[float, Query(gt=0.5, lt=1)] = 0.95,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        demand.stock_plan, wh, session_id=session_id, products=products, day=day, service_level=service_level
    )
