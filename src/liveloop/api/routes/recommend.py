"""Recommendations: a user's list for a context, live rooms and the product to pin, product bundles,
feedback that updates lists, and the serving status.

The list endpoint is async: a cached list (pre-built JSON, no validation pass over the response) and a
list ranked from the in-memory snapshot (CPU only, ~a millisecond) are answered on the event loop, with no
thread hop; only a list that needs a warehouse query goes to the thread pool.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.recommend.bundles import product_bundles
from liveloop.recommend.live_rooms import pin_product, rooms_for_user
from liveloop.recommend.service import MAX_K, RecommendService, get_service
from liveloop.recommend.upkeep import parse_interval, retrain_every_from_env
from liveloop.warehouse import Warehouse


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Scheduled retrains start with the server (``LIVELOOP_RETRAIN_EVERY``); the rest of the upkeep
    starts with the first recommendation request; shutdown writes the buffered audit entries."""
    retrain = retrain_every_from_env()
    if retrain:
        svc = app.state.recommend = get_service(app.state.warehouse, app.state.settings)
        svc.start(retrain_every_s=retrain, refit_every_s=_refit_every())
    try:
        yield
    finally:
        running: RecommendService | None = getattr(app.state, "recommend", None)
        if running is not None:
            await run_in_threadpool(running.stop)


router = APIRouter(prefix="/v1", tags=["recommend"], lifespan=_lifespan)
ROUTE_ORDER = 0  # matched first: the list endpoint is the hottest path of the service
EntityId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READERS = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))


def _refit_every() -> float:
    every = os.environ.get("LIVELOOP_REFIT_EVERY", "30s")
    return parse_interval(every, field="LIVELOOP_REFIT_EVERY") or 30.0


def _service(app: FastAPI) -> RecommendService:
    """The app's service, its background upkeep started on first use."""
    svc: RecommendService | None = getattr(app.state, "recommend", None)
    if svc is None:
        svc = app.state.recommend = get_service(app.state.warehouse, app.state.settings)
    if svc.upkeep is None:
        svc.start(refit_every_s=_refit_every())
    return svc


class Reason(BaseModel):
    code: str
    text_zh: str
    text_en: str
    ref: str | None = None


class RecommendedItem(BaseModel):
    rank: int
    product_id: str
    title: str
    category: str
    score: float
    reason: Reason


class RecommendationList(BaseModel):
    """One user's list: ``mode`` is personalised, cold_start, non_personalised, experiment_popular (a
    popularity arm of an experiment on ``recommend``), ended or empty; ``experiment`` names the arm."""

    user_id: str
    context: str
    k: int
    items: list[RecommendedItem]
    mode: str
    model_version: str | None
    known_user: bool
    fallback: Literal["segment", "popularity"] | None = None
    reason: str | None = None
    experiment: dict[str, str] | None = None


class FeedbackIn(BaseModel):
    """One piece of feedback on a recommended product."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(pattern=ID_PATTERN, max_length=128)
    product_id: str = Field(pattern=ID_PATTERN, max_length=128)
    type: Literal["impression", "view", "click", "favorite", "add_to_cart", "purchase"]
    event_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=128)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=128)
    ts: datetime | None = None


@router.get(
    "/users/{user_id}/recommendations",
    dependencies=[READERS],
    response_model=RecommendationList,
    summary="Products for a user now, each with a reason (cold start for unknown users)",
)
async def recommendations(
    request: Request,
    user_id: EntityId,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items")] = 10,
    context: Annotated[
        str, Query(max_length=200, description="home, live:SESSION_ID or product:ID")
    ] = "home",
    explore: Annotated[
        bool | None,
        Query(
            description="Fill the last slot by Thompson sampling (default: LIVELOOP_RECOMMEND_EXPLORE, on)"
        ),
    ] = None,
) -> Response:
    svc = _service(request.app)
    body = svc.cached_json(user_id, k, context, explore=explore, actor="api", rank=True)
    if body is None:  # the snapshot is stale or a query is needed: off the event loop
        body = await run_in_threadpool(svc.recommend_json, user_id, k, context, explore=explore, actor="api")
    return Response(body, media_type="application/json")


@router.get(
    "/users/{user_id}/live-rooms",
    dependencies=[READERS],
    summary="Live rooms to show a user now: live now first, then upcoming previews, each with a reason",
)
def live_rooms(
    request: Request,
    user_id: EntityId,
    k: Annotated[int, Query(ge=1, le=50, description="How many rooms")] = 5,
    horizon_h: Annotated[
        float, Query(gt=0, le=24 * 14, description="Upcoming rooms within this many hours")
    ] = 24,
) -> dict[str, Any]:
    rooms = rooms_for_user(_service(request.app), user_id, k=k, horizon_h=horizon_h)
    return {"user_id": user_id, "rooms": rooms}


@router.get(
    "/live/{session_id}/pin",
    dependencies=[READERS],
    summary="The lineup product to pin for one viewer inside a live room, with its reason",
)
def pin(
    request: Request,
    session_id: EntityId,
    user_id: Annotated[str, Query(pattern=ID_PATTERN, max_length=128, description="The viewer")],
) -> dict[str, Any]:
    return pin_product(_service(request.app), user_id, session_id)


@router.get(
    "/products/{product_id}/bundles",
    dependencies=[READERS],
    summary="Frequently bought together: association rules with support, confidence and lift",
)
def bundles(
    product_id: EntityId,
    n: Annotated[int, Query(ge=1, le=50)] = 10,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return product_bundles(wh, product_id, n=n)


@router.post(
    "/feedback",
    status_code=201,
    dependencies=[Depends(require_roles(Role.INGEST, Role.MARKETER))],
    summary="Impression, click, cart or purchase feedback; the user's next list reflects it",
)
def feedback(request: Request, body: FeedbackIn) -> dict[str, Any]:
    return _service(request.app).feedback(
        body.user_id,
        body.product_id,
        body.type,
        ts=body.ts,
        event_id=body.event_id,
        session_id=body.session_id,
    )


@router.get(
    "/recommend/status",
    dependencies=[Depends(require_roles(Role.ANALYST))],
    summary="Serving status: active model, cache hits and misses, refits, scheduled retrains",
)
def status(request: Request) -> dict[str, Any]:
    return _service(request.app).stats()
