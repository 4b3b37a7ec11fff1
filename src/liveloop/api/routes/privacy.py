"""A person's rights over their data: consents, automated decisions with their explanations (PIPL art.
24), export and erasure: ``/v1/users/{id}/consents|decisions|export|erase``, ``/v1/users/erase``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import ALL_CHANNELS, Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.privacy import consent, retention, rights
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
    _flush_served(request)
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


def _flush_served(request: Request) -> None:
    served = getattr(request.app.state, "recommend", None)
    if served is not None:  # lists served a moment ago may still wait in the audit buffer
        served.flush_audit()


@router.get(
    "/users/{user_id}/export",
    dependencies=[Depends(require_roles())],
    summary="Everything held about a user (PII decrypted for them): JSON, or a zip of JSON and CSV files",
    responses={200: {"content": {"application/json": {}, "application/zip": {}}}},
)
async def export_user_route(
    request: Request,
    user_id: UserId,
    format: Annotated[
        Literal["json", "zip"], Query(description="json, or zip (export.json and CSV)")
    ] = "json",
    lang: Annotated[Literal["zh", "en"], Query(description="Language of the decisions' explanations")] = "zh",
    wh: Warehouse = Depends(get_warehouse),
) -> Response:
    _flush_served(request)
    actor = f"key:{principal_of(request).key_id}"
    found = await run_in_threadpool(
        rights.export_user, wh, user_id, cipher=request.app.state.cipher, lang=lang, actor=actor
    )
    if format == "zip":
        body = await run_in_threadpool(rights.export_zip, found)
        disposition = f'attachment; filename="liveloop-export-{user_id}.zip"'
        return Response(body, media_type="application/zip", headers={"Content-Disposition": disposition})
    return JSONResponse(jsonable_encoder(found))


async def _erased(request: Request, erase: Any, wh: Warehouse, who: Any) -> dict[str, Any]:
    """``erase`` (one user or a batch) in a worker thread, audited under the caller's key."""
    return await run_in_threadpool(
        erase,
        wh,
        who,
        settings=request.app.state.settings,
        cipher=request.app.state.cipher,
        actor=f"key:{principal_of(request).key_id}",
    )


@router.post(
    "/users/{user_id}/erase",
    dependencies=[Depends(require_roles())],
    summary="Erase every trace of a user: tables, caches, models, lakes, and the bytes of the warehouse file",
)
async def erase_user_route(
    request: Request, user_id: UserId, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await _erased(request, rights.erase_user, wh, user_id)


class EraseIn(BaseModel):
    user_ids: list[Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]] = Field(
        ..., min_length=1, max_length=rights.MAX_BATCH, description="The users to erase (one compaction)"
    )


@router.post(
    "/users/erase",
    dependencies=[Depends(require_roles())],
    summary="Erase every trace of several users at once: one compaction of the warehouse file for them all",
)
async def erase_users_route(
    request: Request, body: EraseIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await _erased(request, rights.erase_users, wh, body.user_ids)


class RetentionIn(BaseModel):
    days: int | None = Field(..., description="Days a row is kept (null: keep everything)")


@router.get(
    "/retention",
    dependencies=[Depends(require_roles(Role.ANALYST))],
    summary="Retention policies and the last run",
)
def get_retention(request: Request, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    schedule = getattr(request.app.state, "retention", None)
    return {
        "policies": retention.policies(wh),
        "tables": sorted(retention.RETAINABLE),
        "every_s": schedule.every_s if schedule else None,
        "last_run": schedule.last if schedule else None,
    }


@router.put(
    "/retention/{table}",
    dependencies=[Depends(require_roles())],
    summary="Set how long a table keeps its rows",
)
def put_retention(
    request: Request,
    table: Annotated[str, Path(max_length=64)],
    body: RetentionIn,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    actor = f"key:{principal_of(request).key_id}"
    return {"policies": retention.set_policy(wh, table, body.days, actor=actor)}


@router.post(
    "/retention/apply",
    dependencies=[Depends(require_roles())],
    summary="Apply the policies now (or count, dry run)",
)
def apply_retention(
    request: Request, dry_run: Annotated[bool, Query()] = False, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return retention.apply(wh, dry_run=dry_run, actor=f"key:{principal_of(request).key_id}")
