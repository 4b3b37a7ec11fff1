"""Pricing: ``/v1/pricing/elasticities`` (fit and read), ``/v1/pricing/recommendations`` (list prices with
reasons), ``/v1/pricing/what-if``, ``/v1/pricing/prices`` (apply a price for everyone, after the rules of
DESIGN.md §8.2–8.3; a price names no user, segment or audience). Competitor prices are collected with the
other importable records (``/v1/competitor-prices``, in the events routes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.pricing import (
    PriceRules,
    apply_price,
    fit,
    price_history,
    recommend_prices,
    what_if_price,
)
from liveloop.pricing.service import MAX_LIMIT, product_elasticities
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["pricing"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))
Context = Annotated[
    Literal["shelf", "live", "all"], Query(description="whose sales: the shelf's, live rooms'")
]
ProductId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


class FitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    context: Literal["shelf", "live", "all"] = "shelf"
    start: datetime | None = Field(None, description="window start (default: 90 days before the end)")
    end: datetime | None = Field(None, description="window end (default: the newest order)")


class PriceIn(BaseModel):
    """A price for everyone from ``start``: no user, segment or audience can be named."""

    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    price: float = Field(..., description="the new price (above zero; not below cost unless a clearance)")
    start: datetime
    end: datetime | None = None
    was_price: float | None = Field(None, description="a reference price to show: never above the 7-day low")
    clearance: bool = False
    reason: str | None = Field(None, max_length=500)


@router.post("/pricing/elasticities", dependencies=[WRITE], summary="Fit elasticities from sales and prices")
async def post_fit(body: FitIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(lambda: fit(wh, context=body.context, start=body.start, end=body.end))


@router.get("/pricing/elasticities", dependencies=[READ], summary="The latest fit (fitted now if none)")
async def get_fit(
    context: Context = "shelf",
    product: Annotated[list[str] | None, Query(max_length=200)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(lambda: product_elasticities(wh, products=product, context=context))


@router.get("/pricing/recommendations", dependencies=[READ], summary="Recommended list prices with reasons")
async def recommendations(
    product: Annotated[list[str] | None, Query(max_length=200)] = None,
    lower: Annotated[float, Query(gt=0, le=1)] = 0.7,
    upper: Annotated[float, Query(ge=1, le=5)] = 1.3,
    margin_floor: Annotated[float, Query(ge=0, lt=1)] = 0.05,
    competitor_premium: Annotated[float, Query(ge=0, le=1)] = 0.05,
    min_days: Annotated[int, Query(ge=0, le=365)] = 7,
    clear_days: Annotated[int, Query(ge=1, le=3650)] = 90,
    objective: Annotated[Literal["profit", "gmv"], Query()] = "profit",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    rules = PriceRules(
        lower=lower,
        upper=upper,
        margin_floor=margin_floor,
        competitor_premium=competitor_premium,
        min_days_between_changes=min_days,
        clear_days=clear_days,
        objective=objective,
    )
    return await run_in_threadpool(lambda: recommend_prices(wh, rules=rules, products=product, limit=limit))


@router.get("/pricing/what-if", dependencies=[READ], summary="Expected units, GMV and profit at a price")
async def get_what_if(
    product_id: Annotated[str, Query(pattern=ID_PATTERN, max_length=128)],
    price: Annotated[float, Query(gt=0)],
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(what_if_price, wh, product_id, price)


@router.post("/pricing/prices", status_code=201, dependencies=[WRITE], summary="Apply a price for everyone")
async def post_price(
    request: Request, body: PriceIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    actor = f"key:{principal_of(request).key_id}"
    return await run_in_threadpool(
        lambda: apply_price(
            wh,
            body.product_id,
            body.price,
            start=body.start,
            end=body.end,
            was_price=body.was_price,
            clearance=body.clearance,
            reason=body.reason,
            actor=actor,
        )
    )


@router.get("/pricing/prices/{product_id}", dependencies=[READ], summary="A product's price history")
def get_prices(
    product_id: ProductId,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return {"product_id": product_id, "prices": price_history(wh, product_id, limit=limit)}
