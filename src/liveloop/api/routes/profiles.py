"""User profiles and segments: a user's profile, interest tags (seen and removed on the user's behalf),
similar users, the segment list, background rebuilds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.profiles import (
    UserQuery,
    get_segment,
    list_segments,
    list_users,
    remove_tag,
    similar_users,
    user_profile,
    user_tags,
)
from liveloop.profiles.directory import MAX_LIMIT
from liveloop.profiles.jobs import registry
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["profiles"])
EntityId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
TagPath = Annotated[str, Path(min_length=3, max_length=200, description="kind:value, e.g. category:beauty")]
READERS = Depends(require_roles(Role.ANALYST, Role.MARKETER))
#: App back-ends hold ingest keys: they show users their tags and remove them on the user's behalf.
TAG_OWNERS = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.INGEST))
BUILDERS = Depends(require_roles(Role.ANALYST))


@router.get(
    "/profiles",
    dependencies=[READERS],
    summary="The user directory: profiled users by segment, lifecycle stage, value tier, id or phone",
)
def get_profiles(
    request: Request,
    segment: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64, description="e.g. S1")] = None,
    lifecycle: Annotated[str | None, Query(max_length=32, description="new, active, at_risk …")] = None,
    value_tier: Annotated[str | None, Query(max_length=16, description="high, medium, low, none")] = None,
    q: Annotated[
        str | None, Query(max_length=64, description="part of a user id, or a phone number (blind index)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    query = UserQuery(segment, lifecycle, value_tier, q, limit, offset)
    return list_users(wh, query, cipher=request.app.state.cipher)


@router.get(
    "/users/{user_id}/profile",
    dependencies=[READERS],
    summary="A user's profile, each part with a one-line reason",
)
def get_profile(user_id: EntityId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return user_profile(wh, user_id)


@router.get(
    "/users/{user_id}/similar",
    dependencies=[READERS],
    summary="The users most similar to a user (implicit-ALS embeddings), each with a reason",
)
def get_similar(
    user_id: EntityId,
    k: Annotated[int, Query(ge=1, le=100, description="How many similar users")] = 10,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return similar_users(wh, user_id, k)


@router.get(
    "/users/{user_id}/tags",
    dependencies=[TAG_OWNERS],
    summary="A user's interest tags and the tags they removed (for the user to see, PIPL art. 24)",
)
def get_tags(user_id: EntityId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return user_tags(wh, user_id)


@router.delete(
    "/users/{user_id}/tags/{tag}",
    dependencies=[TAG_OWNERS],
    summary="Remove an interest tag (kept as an override every build and model respects)",
)
def delete_tag(
    user_id: EntityId, tag: TagPath, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    caller = principal_of(request)
    return remove_tag(wh, user_id, tag, actor=f"api:{caller.role.value}:{caller.name}")


@router.get("/segments", dependencies=[READERS], summary="Every segment with size, value and description")
def segments(wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return {"items": list_segments(wh)}


@router.get("/segments/{segment_id}", dependencies=[READERS], summary="One segment with sample users")
def segment(segment_id: EntityId, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return get_segment(wh, segment_id)


@router.post(
    "/profiles/rebuild",
    dependencies=[BUILDERS],
    status_code=202,
    summary="Rebuild profiles in the background",
)
def rebuild(request: Request) -> JSONResponse:
    job = registry().start_rebuild(request.app.state.settings)
    return JSONResponse(job, status_code=202, headers={"Location": f"/v1/profiles/jobs/{job['job_id']}"})


@router.get("/profiles/jobs/{job_id}", dependencies=[BUILDERS], summary="Progress of a rebuild job")
def job(job_id: EntityId) -> dict[str, Any]:
    return registry().get(job_id)
