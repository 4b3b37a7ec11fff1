"""A person's rights over their data: consents, and automated decisions with their explanations
(PIPL art. 24): ``/v1/users/{id}/consents``, ``/v1/users/{id}/decisions``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

import liveloop.live
import liveloop.profiles
import liveloop.recommend  # noqa: F401  (each capability registers its explainers on import)
from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import ALL_CHANNELS, Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.privacy import consent
from liveloop.privacy.audit import MAX_DECISIONS, decisions
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["privacy"])
UserId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


@router.get(
    "/users/{user_id}/decisions",
    dependencies=[Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.INGEST))],
    summary="Automated decisions about a user, newest first, each explained in the user's language",
)
def user_decisions(
    request: Request,
    user_id: UserId,
    lang: Annotated[Literal["zh", "en"], Query(description="Language of the explanations")] = "zh",
    limit: Annotated[int, Query(ge=1, le=MAX_DECISIONS)] = 100,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    served = getattr(request.app.state, "recommend", None)
    if served is not None:  # lists served a moment ago may still wait in the audit buffer
        served.flush_audit()
    return {"user_id": user_id, "decisions": decisions(wh, user_id, lang=lang, limit=limit)}


class ConsentIn(BaseModel):
    """One statement of the user: ``status`` of ``purpose`` (on ``channel``, marketing only) from ``ts``."""

    purpose: Literal["personalisation", "profiling", "marketing", "sharing"]
    status: Literal["granted", "denied", "revoked"]
    channel: str = Field(ALL_CHANNELS, max_length=32, description="A marketing channel, or all")
    source: str | None = Field(
        None, max_length=200, description="Where it was given: app settings, signup form…"
    )
    proof: str | None = Field(
        None, max_length=consent.MAX_PROOF, description="What shows it: a form id, text"
    )
    ts: datetime | None = Field(None, description="When the user said it (now when left out)")


class ConsentsIn(BaseModel):
    changes: list[ConsentIn] = Field(..., min_length=1, max_length=consent.MAX_CHANGES)


@router.get(
    "/users/{user_id}/consents",
    dependencies=[Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.INGEST))],
    summary="A user's consent per purpose and channel (effective now, and why) with the full history",
)
def get_consents(user_id: UserId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return consent.of_user(wh, user_id)


@router.post(
    "/users/{user_id}/consents",
    dependencies=[Depends(require_roles(Role.INGEST))],
    summary="Record what a user granted, denied or revoked (the app calls this; history is kept)",
)
async def post_consents(
    request: Request, user_id: UserId, body: ConsentsIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    actor = f"key:{principal_of(request).key_id}"
    changes = [
        consent.ConsentChange(user_id=user_id, **(c.model_dump() | {"source": c.source or "api"}))
        for c in body.changes
    ]
    counts = await run_in_threadpool(consent.record, wh, changes, actor=actor)
    return counts | await run_in_threadpool(consent.of_user, wh, user_id)
