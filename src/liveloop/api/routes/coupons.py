"""Coupons and member privileges under published rules: ``/v1/coupons`` (marketers create and issue,
analysts read), claims and redemptions from the app's back-end (ingest role), a user's privileges and a
product's member price. A refused claim or redemption is a 200 answer carrying the true reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.campaigns import audiences, coupons
from liveloop.core.errors import ValidationFailed
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["coupons"])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))
APP = Depends(require_roles(Role.INGEST))
MEMBER = Depends(require_roles(Role.INGEST, Role.MARKETER))
Money = Annotated[Decimal, Field(ge=0, le=coupons.MAX_MONEY, decimal_places=2)]


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


class EligibilityIn(BaseModel):
    """Who may hold it (all that are given must hold; none: every user)."""

    rule: str | None = Field(None, max_length=2000, examples=['lifecycle = "loyal" and frequency >= 2'])
    segment: str | None = Field(None, max_length=128)
    lifecycle: str | None = Field(None, max_length=32)


class CouponIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    kind: Literal["coupon", "privilege"] = "coupon"
    amount: Money | None = None
    percent_off: Annotated[Decimal, Field(gt=0, lt=100, decimal_places=2)] | None = None
    max_discount: Money | None = None
    min_spend: Money | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    valid_days: int | None = Field(None, ge=1, le=coupons.MAX_VALID_DAYS)
    budget: Money | None = None
    max_grants: int | None = Field(None, ge=1, le=100_000_000)
    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)  # type: ignore[arg-type]
    perks: list[Literal[tuple(coupons.PERKS)]] = Field(default_factory=list, max_length=10)  # type: ignore[valid-type]
    repeatable: bool = Field(False, description="may be held again once used or expired (offer rounds)")


@router.post("/coupons", status_code=201, dependencies=[WRITE], summary="Create a coupon or privilege")
async def create_coupon(
    request: Request, body: CouponIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    spec = coupons.CouponSpec.from_dict(body.model_dump())
    return await run_in_threadpool(coupons.create, wh, spec, actor=_actor(request))


@router.get("/coupons", dependencies=[READ], summary="Coupons and privileges with their published rules")
def list_coupons(
    kind: Annotated[Literal["coupon", "privilege"] | None, Query()] = None,
    status: Annotated[Literal["active", "paused"] | None, Query()] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> list[dict[str, Any]]:
    return coupons.list_coupons(wh, kind=kind, status=status)


@router.get("/coupons/{coupon_id}", dependencies=[READ], summary="A coupon, its published rules and report")
def get_coupon(coupon_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return coupons.get(wh, coupon_id) | {"report": coupons.report(wh, coupon_id)}


class StatusIn(BaseModel):
    status: Literal["active", "paused"]


@router.post("/coupons/{coupon_id}/status", dependencies=[WRITE], summary="Pause or resume issuing")
async def set_status(
    request: Request, coupon_id: Id, body: StatusIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(coupons.set_status, wh, coupon_id, body.status, actor=_actor(request))


class IssueIn(BaseModel):
    """To a stored audience or to listed users (one of them)."""

    audience_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)
    user_ids: list[Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]] = Field(
        default_factory=list, max_length=coupons.MAX_ISSUE
    )


def _issue(wh: Warehouse, coupon_id: str, body: IssueIn, actor: str) -> dict[str, Any]:
    if (body.audience_id is None) == (not body.user_ids):
        raise ValidationFailed("give audience_id or user_ids", field="audience_id")
    if body.audience_id is not None:
        users = audiences.user_ids(wh, body.audience_id)
        return coupons.issue(wh, coupon_id, users, source=f"audience:{body.audience_id}", actor=actor)
    return coupons.issue(wh, coupon_id, body.user_ids, source="manual", actor=actor)


@router.post(
    "/coupons/{coupon_id}/issue",
    dependencies=[WRITE],
    summary="Issue to an audience or users; each refusal carries its true reason",
)
async def issue(
    request: Request, coupon_id: Id, body: IssueIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(_issue, wh, coupon_id, body, _actor(request))


class ClaimIn(BaseModel):
    user_id: str = Field(..., pattern=ID_PATTERN, max_length=128)


@router.post(
    "/coupons/{coupon_id}/claim",
    dependencies=[APP],
    summary="A user claims a coupon: the grant, or the true reason it is refused",
)
async def claim(
    request: Request, coupon_id: Id, body: ClaimIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(coupons.claim, wh, coupon_id, body.user_id, actor=_actor(request))


class RedeemIn(BaseModel):
    """One coupon on one order (give ``coupon_id`` or ``grant_id``)."""

    user_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    order_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    order_amount: Money
    coupon_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)
    grant_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)
    ts: datetime | None = None


@router.post(
    "/coupons/redeem",
    dependencies=[APP],
    summary="Use a held coupon on an order: the discount, or the true reason it is refused",
)
async def redeem(request: Request, body: RedeemIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(lambda: coupons.redeem(wh, **body.model_dump(), actor=_actor(request)))


@router.get("/users/{user_id}/privileges", dependencies=[MEMBER], summary="A user's member privileges")
def privileges(user_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return coupons.privileges_of(wh, user_id)


@router.get(
    "/products/{product_id}/member-price",
    dependencies=[MEMBER],
    summary="A product's one list price, the published member prices, and what this user pays",
)
def member_price(
    product_id: Id,
    user_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return coupons.member_price(wh, product_id, user_id)
