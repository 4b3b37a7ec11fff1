"""Risk: ``/v1/risk`` — scan for fake engagement, abnormal orders and KPI drops (analysts and marketers),
the review queue of flags with their evidence, and a reviewer's verdict (confirmed or dismissed).

Hosts may read the flags of a session (``session_id`` given), never the accounts-and-orders flags of the
whole shop. Everything is decided by ``liveloop.analytics.risk``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import risk
from liveloop.analytics.risk_store import MAX_LIMIT, REVIEW_STATUSES
from liveloop.api.deps import get_warehouse
from liveloop.core.clock import checked_time
from liveloop.core.errors import PermissionDenied
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1/risk", tags=["risk"])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))
WRITE = Depends(require_roles(Role.ANALYST, Role.MARKETER))
Kind = Literal[tuple(risk.KINDS)]  # type: ignore[valid-type]
Status = Literal[risk.STATUSES]  # type: ignore[valid-type]
Verdict = Literal[REVIEW_STATUSES]  # type: ignore[valid-type]


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


def _is_host(request: Request) -> bool:
    return principal_of(request).role == Role.HOST


class ScanIn(BaseModel):
    """What to scan (everything when empty): the detectors, a time window, one session."""

    kinds: list[Kind] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="detectors to run (default: all; per session: the live-room ones)"
    )
    session_id: str | None = Field(None, max_length=128, pattern=ID_PATTERN)
    start: datetime | None = Field(None, description="acts from (ISO 8601)")
    end: datetime | None = Field(None, description="acts before (ISO 8601)")
    params: dict[str, int | float] | None = Field(
        None, description="thresholds overriding the defaults (see docs/risk.md)", examples=[{"like_k": 10}]
    )


class ReviewIn(BaseModel):
    status: Verdict = Field(..., description="confirmed, dismissed (or open to reopen)")
    note: str | None = Field(None, max_length=2000)


@router.get("/kinds", dependencies=[READ], summary="The kinds of risk the detectors find")
def kinds() -> list[dict[str, Any]]:
    return [
        {"kind": k, "description": d, "per_session": k in risk.SESSION_KINDS} for k, d in risk.KINDS.items()
    ]


@router.post("/scan", dependencies=[WRITE], summary="Run the detectors; new findings become open flags")
async def scan(body: ScanIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    start = checked_time(body.start, "start") if body.start else None
    end = checked_time(body.end, "end") if body.end else None
    return await run_in_threadpool(
        lambda: risk.scan(
            wh, body.kinds, start=start, end=end, session_id=body.session_id, params=body.params
        )
    )


@router.get("/flags", dependencies=[READ], summary="The review queue: flags, newest scan first")
async def list_flags(
    request: Request,
    kind: Kind | None = None,  # type: ignore[valid-type]
    status: Status | None = None,
    session_id: Annotated[str | None, Query(max_length=128, pattern=ID_PATTERN)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    if _is_host(request) and session_id is None:
        raise PermissionDenied("a host reads the flags of one session: give session_id", field="session_id")
    return await run_in_threadpool(
        lambda: risk.list_flags(
            wh, kind=kind, status=status, session_id=session_id, subject=subject, limit=limit, offset=offset
        )
    )


@router.get("/flags/{flag_id}", dependencies=[READ], summary="A flag with its evidence and example members")
async def get_flag(
    request: Request,
    flag_id: Id,
    examples: Annotated[int, Query(ge=0, le=500, description="items of each kind to list")] = 20,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    flag = await run_in_threadpool(risk.get_flag, wh, flag_id, examples=examples)
    if _is_host(request) and flag["session_id"] is None:
        raise PermissionDenied("a host reads only the flags of a live session", field="flag_id")
    return flag


@router.post("/flags/{flag_id}/review", dependencies=[WRITE], summary="Confirm or dismiss a flag")
async def review(
    request: Request, flag_id: Id, body: ReviewIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: risk.review_flag(wh, flag_id, body.status, reviewer=_actor(request), note=body.note)
    )
