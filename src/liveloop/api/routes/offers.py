"""Offers that learn: ``/v1/offers`` — coupon offer policies (one published offer per lifecycle stage and
round, chosen by ``liveloop.pricing.offers``), their rounds (issued by ``liveloop.campaigns``), the
policies compared in the simulated world and valued on a randomised coupon test."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.campaigns.offer_rounds import issue_round
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.pricing import offer_policies
from liveloop.pricing.offer_simulation import compare_offer_policies
from liveloop.pricing.offer_value import artea_policy_value
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["offers"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))
PolicyId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


class PolicyIn(BaseModel):
    """A menu of repeatable coupons for the lifecycle stages: no user attribute can be named."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    coupons: list[Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]] = Field(
        ..., min_length=1, max_length=8
    )
    segments: list[Annotated[str, Field(max_length=32)]] | None = Field(
        None, max_length=20, description="lifecycle stages (default: every stage the profiles hold)"
    )
    budget: float | None = Field(None, gt=0, description="the most coupon discount over all rounds")
    rounds: int = Field(30, ge=2, le=365)
    round_days: int = Field(1, ge=1, le=30)
    objective: Literal["profit", "gmv"] = "profit"
    max_loss: float | None = Field(
        None,
        ge=0,
        le=1,
        description="fall at most this share behind no coupon while learning (profit: 0.01; 1: off)",
    )


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


@router.post("/offers", status_code=201, dependencies=[WRITE], summary="Create an offer policy")
async def create(request: Request, body: PolicyIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: offer_policies.create_policy(
            wh,
            body.name,
            body.coupons,
            segments=body.segments,
            budget=body.budget,
            rounds=body.rounds,
            round_days=body.round_days,
            objective=body.objective,
            max_loss=body.max_loss,
            actor=_actor(request),
        )
    )


@router.get("/offers", dependencies=[READ], summary="Offer policies with their current round")
def list_all(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return offer_policies.list_policies(wh)


@router.get(
    "/offers/simulation", dependencies=[READ], summary="Offer policies compared in the simulated world"
)
async def simulation(
    rounds: Annotated[int, Query(ge=5, le=365)] = 60,
    budget_share: Annotated[float, Query(gt=0, le=1)] = 0.5,
    objective: Annotated[Literal["profit", "gmv"], Query()] = "profit",
    seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: compare_offer_policies(
            wh, rounds=rounds, budget_share=budget_share, objective=objective, seed=seed
        )
    )


@router.get("/offers/evaluation", dependencies=[READ], summary="Segment-rule policies on a randomised test")
async def evaluation(
    outcome: Annotated[Literal["revenue_after", "trans_after"], Query()] = "revenue_after",
    seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    return await run_in_threadpool(lambda: artea_policy_value(outcome=outcome, seed=seed))


@router.get("/offers/{policy_id}", dependencies=[READ], summary="A policy: what each offer earned, per stage")
def get_one(policy_id: PolicyId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return offer_policies.get_policy(wh, policy_id)


@router.post(
    "/offers/{policy_id}/rounds",
    dependencies=[WRITE],
    summary="Measure ended rounds, start and issue the next",
)
async def next_round(
    request: Request, policy_id: PolicyId, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(lambda: issue_round(wh, policy_id, actor=_actor(request)))
