"""Recommendations: a user's list for a context, product bundles, and feedback that updates lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from liveloop.api.auth import require_roles
from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.recommend.bundles import product_bundles
from liveloop.recommend.service import MAX_K, get_service
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["recommend"])
EntityId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READERS = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))


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
    summary="Products for a user now, each with a reason (cold start for unknown users)",
)
def recommendations(
    user_id: EntityId,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items")] = 10,
    context: Annotated[
        str, Query(max_length=200, description="home, live:SESSION_ID or product:ID")
    ] = "home",
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return get_service(wh).recommend(user_id, k, context, actor="api")


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
def feedback(body: FeedbackIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return get_service(wh).feedback(
        body.user_id,
        body.product_id,
        body.type,
        ts=body.ts,
        event_id=body.event_id,
        session_id=body.session_id,
    )
