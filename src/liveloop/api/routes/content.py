"""Content studio: ``/v1/content/…`` — a session's live script, copy variants per channel, a product's
selling points, and the compliance check (marketers, hosts and analysts read; nothing here writes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.content import copywriting, default_checker, scripts, selling
from liveloop.content.compliance import MAX_LINES, check_lines
from liveloop.content.facts import one_product
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1/content", tags=["content"])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READ = Depends(require_roles(Role.MARKETER, Role.HOST, Role.ANALYST))
Channel = Literal["title", "push", "sms", "email", "social", "preview"]
Lang = Literal["zh", "en"]


@router.get("/scripts/{session_id}", dependencies=[READ], summary="Tonight's live script for a session")
async def get_script(session_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(scripts.session_script, wh, session_id)


@router.get("/copy/{product_id}", dependencies=[READ], summary="Copy variants for a product on one channel")
async def get_copy(
    product_id: Id,
    channel: Annotated[Channel, Query()],
    persona: Annotated[str | None, Query(max_length=64)] = None,
    lang: Annotated[Lang, Query()] = "zh",
    variants: Annotated[int, Query(ge=1, le=copywriting.MAX_VARIANTS)] = 3,
    signature: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        copywriting.product_copy,
        wh,
        product_id,
        channel,
        persona=persona,
        lang=lang,
        variants=variants,
        signature=signature,
    )


@router.get("/points/{product_id}", dependencies=[READ], summary="What customers praise and complain about")
async def get_points(product_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        facts = one_product(wh, product_id)
        return selling.product_points(wh, {product_id: facts}, default_checker())[product_id]

    return await run_in_threadpool(run)


class CheckIn(BaseModel):
    texts: list[Annotated[str, Field(min_length=1, max_length=5000)]] = Field(
        ..., min_length=1, max_length=MAX_LINES, examples=[["全网最低价，限量100件", "补水保湿面霜"]]
    )
    product_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)


@router.post("/check", dependencies=[READ], summary="Check copy against the compliance gate")
async def post_check(body: CheckIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(check_lines, body.texts, wh=wh, product_id=body.product_id)
