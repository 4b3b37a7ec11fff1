"""The Products pages: the catalogue with its sales (paged, by id, name or category) and one product."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.catalog import MAX_LIMIT, ProductQuery, list_products, product_detail
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.web.export import table_response
from liveloop.web.templating import render

ROLES = (Role.ANALYST, Role.MARKETER, Role.HOST)
NAV = {"path": "/products", "label": N_("Products"), "order": 38, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
PAGE = 50


@router.get("/products", response_class=HTMLResponse)
async def products_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    query = ProductQuery(q or None, category or None, MAX_LIMIT if export else PAGE, offset)
    try:
        page = await run_in_threadpool(list_products, request.app.state.warehouse, query)
    except ValidationFailed as exc:
        return render(request, "products/list.html", {"error": exc.detail, "page": None}, status_code=422)
    if export:
        return table_response(page["items"], "liveloop-products", export)
    filters = {"q": q, "category": category}
    return render(
        request,
        "products/list.html",
        {"page": page, "filters": filters, "query": urlencode({k: v for k, v in filters.items() if v})},
    )


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(
    request: Request, product_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
) -> HTMLResponse:
    context: dict[str, Any] = {"product": None, "error": None, "product_id": product_id}
    try:
        context["product"] = await run_in_threadpool(product_detail, request.app.state.warehouse, product_id)
    except NotFound as exc:
        context["error"] = exc.detail
    return render(request, "products/detail.html", context, status_code=404 if context["error"] else 200)
