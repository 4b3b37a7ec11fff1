"""API keys over HTTP (admin only): create (the key is in the response once), list, revoke; and the
rotation of the secret key that encrypts PII, with the server running."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.privacy.keys import create_key, list_keys, revoke_key
from liveloop.privacy.rotation import rotate_secret
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[Depends(require_roles())])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str = Field(min_length=1, max_length=80, pattern=r"^[\w .:@/-]{1,80}$")


class KeyInfo(BaseModel):
    key_id: str
    name: str
    role: Role
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class CreatedKeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    key: str = Field(description="The API key. It is shown only in this response.")


@router.post("", status_code=201, response_model=CreatedKeyOut, summary="Create an API key")
def create(body: KeyIn, request: Request, wh: Warehouse = Depends(get_warehouse)) -> Any:
    created = create_key(wh, body.role, body.name, actor=f"key:{principal_of(request).key_id}")
    return CreatedKeyOut(key_id=created.key_id, name=created.name, role=created.role, key=created.key)


@router.get("", response_model=list[KeyInfo], summary="List API keys (never the secrets)")
def index(wh: Warehouse = Depends(get_warehouse)) -> Any:
    return list_keys(wh)


@router.delete("/{key_id}", summary="Revoke an API key at once")
def revoke(
    request: Request, key_id: str = Path(pattern=r"^[0-9a-f]{12}$"), wh: Warehouse = Depends(get_warehouse)
) -> Any:
    return revoke_key(wh, key_id, actor=f"key:{principal_of(request).key_id}")


@router.post(
    "/rotate-secret",
    summary="Re-encrypt every PII value under a new secret key, while serving (resumable; audited)",
)
async def rotate(request: Request, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    actor = f"key:{principal_of(request).key_id}"
    return await run_in_threadpool(rotate_secret, wh, request.app.state.settings, actor=actor)
