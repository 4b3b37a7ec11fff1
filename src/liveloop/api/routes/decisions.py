"""A person's automated decisions with their explanations (PIPL art. 24): ``GET /v1/users/{id}/decisions``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

import liveloop.live
import liveloop.profiles
import liveloop.recommend  # noqa: F401  (each capability registers its explainers on import)
from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.privacy.audit import MAX_DECISIONS, decisions
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["privacy"])


@router.get(
    "/users/{user_id}/decisions",
    dependencies=[Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.INGEST))],
    summary="Automated decisions about a user, newest first, each explained in the user's language",
)
def user_decisions(
    request: Request,
    user_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=128)],
    lang: Annotated[Literal["zh", "en"], Query(description="Language of the explanations")] = "zh",
    limit: Annotated[int, Query(ge=1, le=MAX_DECISIONS)] = 100,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    served = getattr(request.app.state, "recommend", None)
    if served is not None:  # lists served a moment ago may still wait in the audit buffer
        served.flush_audit()
    return {"user_id": user_id, "decisions": decisions(wh, user_id, lang=lang, limit=limit)}
