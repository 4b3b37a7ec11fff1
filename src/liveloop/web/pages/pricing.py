"""The Pricing & Budget page: elasticities per category with intervals (and how many products have their
own), tonight's recommended list prices with their reasons, expected profit and the was-price that may be
shown, a what-if for one product with its price history, applying a recommended price (marketers), and
the newest media budget plan against its spend, and the bid advice per audience for platform ad tools.

Computed by ``liveloop.pricing`` and ``liveloop.budget``; one price per product and time slot for all."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.catalog import display_names
from liveloop.budget import bid_advice
from liveloop.budget import plans as budget_plans
from liveloop.core.errors import LiveloopError
from liveloop.core.i18n import N_
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.pricing import apply_price, latest_fit, price_history, recommend_prices, what_if_price
from liveloop.pricing.offer_policies import get_policy, list_policies
from liveloop.pricing.service import next_local_midnight
from liveloop.profiles.tags import LIFECYCLE_NAMES
from liveloop.web.templating import figure, gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
WRITE = Depends(require_roles(Role.MARKETER))
NAV = {"path": "/pricing", "label": N_("Pricing & Budget"), "order": 37.7, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
ACTIONS = {"": N_("every action"), "raise": N_("raise"), "lower": N_("lower"), "hold": N_("hold")}
SHOWN = 30
#: Offer policies shown (newest first).
OFFER_POLICIES_SHOWN = 5
#: What each reason code means, in words (its details fill the placeholders).
REASONS = {
    "optimum": N_("the profit-maximising price for elasticity %(elasticity).2f"),
    "inelastic": N_("demand is inelastic (%(elasticity).2f): a higher price earns more"),
    "gmv_elastic": N_("elastic demand: a lower price sells more"),
    "gmv_inelastic": N_("inelastic demand: a higher price sells more"),
    "margin_floor": N_("held at the margin floor (%(floor)s)"),
    "competitor_cap": N_("capped near the lowest competitor price (%(competitor)s)"),
    "markdown_planned": N_("a markdown is planned: no raise before it"),
    "changed_recently": N_("changed %(days)s days ago: too soon to change again"),
    "rules_conflict": N_("the rules leave no price (lowest %(lowest)s above highest %(highest)s)"),
    "slow_stock": N_("%(days_of_stock)s days of stock: lowered to sell it within %(clear_days)s days"),
    "lower_bound": N_("held at the lowest allowed price (%(bound)s)"),
    "upper_bound": N_("held at the highest allowed price (%(bound)s)"),
    "small_change": N_("the change would be under 1%%: kept"),
    "no_elasticity": N_("no elasticity can be estimated: kept"),
    "category_elasticity": N_("too few sales of its own: the category's elasticity is used"),
    "no_cost": N_("no cost on record: GMV is maximised instead of profit"),
}
SOURCES = {
    "own": N_("own"),
    "pooled": N_("pooled with its category"),
    "category": N_("category's"),
    "none": N_("none"),
}


def _reason_text(reason: dict[str, Any], gettext: Any) -> str:
    template = REASONS.get(reason["code"])
    if template is None:
        return str(reason["code"])
    return gettext(template) % {k: v for k, v in reason.items() if k != "code"}


def _chart(categories: list[dict[str, Any]], lang: str, gettext: Any) -> Any:
    rows = [c for c in categories if c["identified"]]
    fig = go.Figure()
    fig.add_bar(
        x=[label(c["category"], lang) for c in rows],
        y=[c["elasticity"] for c in rows],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [c["high"] - c["elasticity"] for c in rows],
            "arrayminus": [c["elasticity"] - c["low"] for c in rows],
        },
        marker_color="#1f6feb",
        name=gettext("elasticity"),
    )
    fig.update_layout(yaxis={"title": gettext("own-price elasticity (95%% interval)") % {}}, showlegend=False)
    return figure(fig, height=280)


def _budget_chart(plan: dict[str, Any], lang: str, gettext: Any) -> Any:
    """Per channel: planned to date beside spent (the whole plan before it starts)."""
    names = [label(x["channel"], lang) for x in plan["lines"]]
    before = plan["days_elapsed"] == 0
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[x["planned"] if before else x["planned_to_date"] for x in plan["lines"]],
        name=gettext("planned") if before else gettext("planned to date"),
        marker_color="#1f6feb",
    )
    fig.add_bar(x=names, y=[x["spent"] for x in plan["lines"]], name=gettext("spent"), marker_color="#d29922")
    fig.update_layout(barmode="group", yaxis={"title": "¥", "rangemode": "tozero"})
    return figure(fig, height=260)


def _budget(wh: Any, tz: str, lang: str, gettext: Any) -> dict[str, Any]:
    """The newest budget plan with its spend to date, and the chart of both."""
    newest = budget_plans.list_plans(wh, limit=1)
    if not newest:
        return {"budget_plan": None}
    plan = budget_plans.get_plan(wh, newest[0]["plan_id"], tz=tz)
    return {"budget_plan": plan, "budget_chart": _budget_chart(plan, lang, gettext)}


def _context(request: Request, action: str, product: str | None, price: float | None) -> dict[str, Any]:
    wh = request.app.state.warehouse
    lang, gettext = lang_of(request), gettext_of(request)
    out: dict[str, Any] = {"fit": None, "error": None, "recs": None, "what_if": None, "what_if_error": None}
    out |= _budget(wh, str(request.app.state.settings.timezone), lang, gettext)  # with or without prices
    try:
        fitted = latest_fit(wh)
        recs = recommend_prices(wh, limit=500)
    except LiveloopError as exc:
        out["error"] = exc.detail
        return out
    out["fit"] = fitted
    out["chart"] = _chart(fitted["categories"], lang, gettext)
    out["sources"] = fitted["info"]["sources"]
    shown = [r for r in recs["recommendations"] if not action or r["action"] == action][:SHOWN]
    for r in shown:
        r["reason_texts"] = [_reason_text(x, gettext) for x in r["reasons"]]
    out["recs"] = recs
    out["shown"] = shown
    try:
        out["advice"] = bid_advice(wh)
    except LiveloopError as exc:
        out["advice_error"] = exc.detail
    out["offers"] = [get_policy(wh, p["policy_id"]) for p in list_policies(wh)[:OFFER_POLICIES_SHOWN]]
    out["stage_names"] = {k: v[0] if lang == "zh" else v[1] for k, v in LIFECYCLE_NAMES.items()}
    out["names"] = display_names(
        wh, "product", [r["product_id"] for r in shown] + ([product] if product else []), lang
    )
    if product:
        try:
            out["what_if"] = what_if_price(wh, product, price) if price else None
            out["history"] = price_history(wh, product, limit=20)
        except LiveloopError as exc:
            out["what_if_error"] = exc.detail
    return out


@router.get("/pricing", response_class=HTMLResponse)
async def pricing_page(
    request: Request,
    action: Annotated[Literal["", "raise", "lower", "hold"], Query()] = "",
    product: Annotated[str | None, Query(max_length=128)] = None,
    price: Annotated[float | None, Query(gt=0, le=10_000_000)] = None,
) -> HTMLResponse:
    context = await run_in_threadpool(_context, request, action, product or None, price)
    principal = request.state.principal
    context |= {
        "action": action, "actions": ACTIONS, "product": product or "", "price": price,
        "sources_names": SOURCES, "may_apply": principal.role in (Role.ADMIN, Role.MARKETER),
        "applied": request.query_params.get("applied"),
    }  # fmt: skip
    return render(request, "measure/pricing.html", context)


@router.post("/pricing/apply", dependencies=[WRITE])
async def apply_page(request: Request) -> Response:
    """Apply a recommended price from the next local midnight, for everyone (the rules decide)."""
    form = await request.form()
    product = str(form.get("product_id") or "")
    settings = request.app.state.settings
    try:
        price = float(str(form.get("price") or ""))
        was = form.get("was_price")
        made = await run_in_threadpool(
            lambda: apply_price(
                request.app.state.warehouse,
                product,
                price,
                start=next_local_midnight(settings.timezone),
                was_price=float(str(was)) if was else None,
                reason="dashboard: recommended price",
                actor=f"key:{principal_of(request).key_id}",
            )
        )
    except (LiveloopError, ValueError) as exc:
        context = await run_in_threadpool(_context, request, "", product or None, None)
        detail = exc.detail if isinstance(exc, LiveloopError) else "price must be a number"
        context |= {
            "action": "", "actions": ACTIONS, "product": product, "price": None, "sources_names": SOURCES,
            "may_apply": True, "applied": None, "apply_error": detail,
        }  # fmt: skip
        return render(request, "measure/pricing.html", context, status_code=422)
    return RedirectResponse(
        f"/pricing?product={made['product_id']}&applied={made['price_id']}", status_code=303
    )
