"""Pricing on the warehouse: fit and keep elasticities, recommend tonight's prices, what-if, apply a price.

The faces (CLI, API, dashboard) call these functions and nothing else.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from liveloop.core.config import get_settings
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.pricing import guardrails
from liveloop.pricing.elasticity import MIN_UNITS, estimate
from liveloop.pricing.optimiser import PriceRules, ProductState, recommend, what_if
from liveloop.pricing.panel import sales_panel
from liveloop.privacy.audit import AuditEntry, record
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid
from liveloop.warehouse.prices import in_effect, on_shelf

CONTEXTS = ("shelf", "live", "all")
#: Days of recent shelf sales that set a product's units per day.
RECENT_DAYS = 28
MAX_LIMIT = 500


def next_local_midnight(tz: str) -> datetime:
    """When a price applied now takes effect from the dashboard: the next local midnight."""
    zone = ZoneInfo(tz)
    return datetime.combine(datetime.now(zone).date() + timedelta(days=1), time(0), tzinfo=zone)


def data_now(wh: Warehouse) -> datetime:
    """The newest moment the data knows (the newest order), or now when there are no orders."""
    newest = wh.sql("SELECT max(ts) FROM orders")[0][0]
    return newest if newest is not None else datetime.now(UTC)


def fit(
    wh: Warehouse,
    *,
    context: str = "shelf",
    start: datetime | None = None,
    end: datetime | None = None,
    min_units: int | None = None,
) -> dict[str, Any]:
    """Fit elasticities on the sales of ``context`` (shelf, live or all) in ``[start, end)`` and keep them."""
    if context not in CONTEXTS:
        raise ValidationFailed(f"context must be one of {', '.join(CONTEXTS)}", field="context")
    tz = get_settings().timezone
    cells = sales_panel(wh, start=start, end=end, tz=tz)
    if context != "all":
        cells = cells[cells["kind"] == context]
        if cells.empty or cells["units"].sum() == 0:
            raise InsufficientData(f"there are no {context} sales in this window", field="context")
    result = estimate(cells, cluster="product", block="week", min_units=min_units or MIN_UNITS)
    out = result.to_dict()
    out["info"].update(
        context=context,
        window_start=str(cells["day"].min()),
        window_end=str(cells["day"].max()),
        prices_on_record=bool(wh.sql("SELECT count(*) FROM prices")[0][0]),
        sources={str(k): int(v) for k, v in result.products["source"].value_counts().sort_index().items()},
    )
    fit_id = f"fit_{uuid.uuid4().hex[:12]}"
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO elasticity_fits (fit_id, context, window_start, window_end, result) "
            "VALUES (?, ?, ?, ?, ?)",
            [fit_id, context, start, end, json.dumps(out, ensure_ascii=False)],
        )
    out["fit_id"] = fit_id
    return out


def latest_fit(wh: Warehouse, context: str = "shelf", *, refit: bool = False) -> dict[str, Any]:
    """The newest kept fit of ``context`` (fitted now when there is none, or with ``refit``)."""
    if context not in CONTEXTS:
        raise ValidationFailed(f"context must be one of {', '.join(CONTEXTS)}", field="context")
    if not refit:
        rows = wh.sql(
            "SELECT fit_id, created_at, result FROM elasticity_fits WHERE context = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [context],
        )
        if rows:
            out = json.loads(rows[0][2])
            out["fit_id"], out["created_at"] = rows[0][0], rows[0][1].isoformat()
            return out
    return fit(wh, context=context)


def product_elasticities(
    wh: Warehouse, *, products: list[str] | None = None, top: int | None = None, context: str = "shelf"
) -> dict[str, Any]:
    """The latest fit's product rows (``products`` only, if given), most units sold first, ``top`` of them."""
    fitted = latest_fit(wh, context)
    wanted = set(products or ())
    rows = [p for p in fitted["products"] if not wanted or p["product"] in wanted]
    rows.sort(key=lambda p: -p["units"])
    return {"fit_id": fitted["fit_id"], "info": fitted["info"], "products": rows[:top] if top else rows}


def elasticity_of(fitted: dict[str, Any], product_id: str) -> dict[str, Any]:
    """A product's row of a fit (NotFound when it had no sales in the window)."""
    for row in fitted["products"]:
        if row["product"] == product_id:
            return dict(row)
    raise NotFound(f"product {product_id} has no sales in the fitted window", field="product_id")


def _states(wh: Warehouse, fitted: dict[str, Any], at: datetime, ids: list[str] | None) -> list[ProductState]:
    rows = {r["product"]: r for r in fitted["products"]}
    wanted = list(rows) if ids is None else ids
    if not wanted:
        return []
    catalogue = wh.df(
        f"""
        WITH w AS (SELECT unnest(?::VARCHAR[]) AS product_id),
        shelf AS (
            SELECT p.product_id, arg_max(p.price, p.start_ts)::DOUBLE AS price, max(p.start_ts) AS changed
            FROM prices p JOIN w USING (product_id)
            WHERE {on_shelf("p")} AND {in_effect("p", "?")} GROUP BY 1
        ),
        recent AS (
            SELECT p.product_id, min(p.price)::DOUBLE AS low FROM prices p JOIN w USING (product_id)
            WHERE p.start_ts < ? AND (p.end_ts IS NULL OR p.end_ts > ?) GROUP BY 1
        ),
        planned AS (
            SELECT DISTINCT p.product_id FROM prices p JOIN w USING (product_id)
                JOIN shelf s USING (product_id)
            WHERE p.session_id IS NULL AND p.start_ts > ? AND p.start_ts <= ? AND p.price < s.price
        ),
        sold AS (
            SELECT i.product_id, sum(i.quantity)::DOUBLE AS units
            FROM orders o JOIN order_items i USING (order_id)
            JOIN w ON w.product_id = i.product_id
            WHERE {paid("o")} AND o.session_id IS NULL AND o.ts >= ? AND o.ts < ? GROUP BY 1
        ),
        rival AS (
            SELECT c.product_id, min(c.price)::DOUBLE AS price, list(DISTINCT c.currency) AS currencies
            FROM competitor_prices c JOIN w USING (product_id) WHERE c.ts <= ? AND c.ts > ? GROUP BY 1
        )
        SELECT w.product_id, pr.price::DOUBLE AS list_price, pr.cost::DOUBLE AS cost, pr.stock,
            pr.currency, shelf.price AS shelf_price, shelf.changed, recent.low,
            planned.product_id IS NOT NULL AS markdown_planned, coalesce(sold.units, 0) AS units,
            rival.price AS competitor, rival.currencies
        FROM w LEFT JOIN products pr USING (product_id) LEFT JOIN shelf USING (product_id)
            LEFT JOIN recent USING (product_id) LEFT JOIN planned USING (product_id)
            LEFT JOIN sold USING (product_id) LEFT JOIN rival USING (product_id)
        """,
        [
            wanted,
            at,
            at,
            at,
            at - timedelta(days=guardrails.REFERENCE_DAYS),
            at,
            at + timedelta(days=guardrails.REFERENCE_DAYS),
            at - timedelta(days=RECENT_DAYS),
            at,
            at,
            at - timedelta(days=RECENT_DAYS),
        ],
    )
    states = []
    for r in catalogue.itertuples(index=False):
        if r.product_id not in rows:
            raise NotFound(f"product {r.product_id} has no sales in the fitted window", field="product_id")
        if pd.isna(r.list_price) or not r.list_price > 0:
            continue  # no list price: nothing to optimise around
        e = rows[r.product_id]
        current = float(r.shelf_price) if pd.notna(r.shelf_price) else float(r.list_price)
        competitor = None
        if pd.notna(r.competitor):
            currencies = set(r.currencies)
            if currencies != {r.currency}:
                raise ValidationFailed(
                    f"competitor prices of {r.product_id} are in {', '.join(sorted(currencies))}, "
                    f"the product in {r.currency}: convert them before import",
                    field="currency",
                )
            competitor = float(r.competitor)
        states.append(
            ProductState(
                product_id=r.product_id,
                list_price=float(r.list_price),
                current_price=current,
                cost=None if pd.isna(r.cost) else float(r.cost),
                elasticity=float("nan") if e["elasticity"] is None else float(e["elasticity"]),
                elasticity_se=float("nan") if e["se"] is None else float(e["se"]),
                elasticity_source=str(e["source"]),
                units_per_day=float(r.units) / RECENT_DAYS,
                stock=None if pd.isna(r.stock) else int(r.stock),
                competitor_price=competitor,
                days_since_change=None
                if pd.isna(r.changed)
                else int((at - r.changed).total_seconds() // 86_400),
                markdown_planned=bool(r.markdown_planned),
                lowest_recent_price=None if pd.isna(r.low) else float(r.low),
            )
        )
    return states


def recommend_prices(
    wh: Warehouse,
    *,
    rules: PriceRules | None = None,
    products: list[str] | None = None,
    at: datetime | None = None,
    limit: int = 50,
    refit: bool = False,
) -> dict[str, Any]:
    """Recommended shelf prices from ``at`` (default: the data's newest moment), largest expected gain
    first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    rules = rules or PriceRules()
    at = at or data_now(wh)
    fitted = latest_fit(wh, "shelf", refit=refit)
    states = _states(wh, fitted, at, products)
    recs = [recommend(s, rules) for s in states]
    recs.sort(key=lambda r: -((r.profit or 0) - (r.profit_now or 0)))
    counts = {a: sum(r.action == a for r in recs) for a in ("raise", "lower", "hold")}
    gain = sum((r.profit or 0) - (r.profit_now or 0) for r in recs)
    return {
        "fit_id": fitted["fit_id"],
        "at": at.isoformat(),
        "rules": rules.__dict__,
        "counts": counts,
        "expected_daily_gain": round(gain, 2),
        "recommendations": [_clean(r.to_dict()) for r in recs[:limit]],
        "products": len(recs),
    }


def what_if_price(
    wh: Warehouse, product_id: str, price: float, *, at: datetime | None = None
) -> dict[str, Any]:
    """Expected units, GMV and profit per day of one product at ``price``, with the rules' verdict."""
    at = at or data_now(wh)
    fitted = latest_fit(wh, "shelf")
    elasticity_of(fitted, product_id)
    state = _states(wh, fitted, at, [product_id])
    if not state:
        raise InsufficientData(f"product {product_id} has no list price", field="product_id")
    out = what_if(state[0], price)
    now = what_if(state[0], state[0].current_price)
    out["now"] = {k: now[k] for k in ("units", "gmv", "profit") if k in now}
    out["elasticity"] = state[0].elasticity
    out["elasticity_source"] = state[0].elasticity_source
    out["was_price_allowed"] = state[0].lowest_recent_price
    return _clean(out)


def apply_price(
    wh: Warehouse,
    product_id: str,
    price: float,
    *,
    start: datetime,
    end: datetime | None = None,
    was_price: float | None = None,
    clearance: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Write a shelf price for everyone from ``start`` (to ``end``), after the rules of §8.2–8.3 pass."""
    found = wh.sql(
        "SELECT price::DOUBLE, cost::DOUBLE, currency FROM products WHERE product_id = ?", [product_id]
    )
    if not found:
        raise NotFound(f"no product {product_id}", field="product_id")
    if end is not None and end <= start:
        raise ValidationFailed("end must be after start", field="end")
    list_price, cost, currency = found[0]
    guardrails.check_price(wh, product_id, price, start, was_price=was_price, cost=cost, clearance=clearance)
    kind = "markdown" if list_price is not None and price < list_price else "list"
    price_id = f"price_{uuid.uuid4().hex[:12]}"
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO prices (price_id, product_id, start_ts, end_ts, price, currency, kind, was_price, "
            "reason, created_by, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'liveloop')",
            [price_id, product_id, start, end, price, currency, kind, was_price, reason, actor],
        )
        record(
            wh,
            AuditEntry(
                actor=actor,
                action="price.apply",
                subject=product_id,
                decision=f"{price:.2f}",
                reason=reason or kind,
                details={"price_id": price_id, "start": start.isoformat(), "was_price": was_price},
            ),
            con=con,
        )
    return {
        "price_id": price_id,
        "product_id": product_id,
        "price": price,
        "kind": kind,
        "was_price": was_price,
    }


def price_history(wh: Warehouse, product_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The product's price rows, newest first."""
    rows = wh.df(
        "SELECT price_id, start_ts, end_ts, price::DOUBLE AS price, currency, kind, session_id, "
        "was_price::DOUBLE AS was_price, reason FROM prices WHERE product_id = ? "
        "ORDER BY start_ts DESC LIMIT ?",
        [product_id, limit],
    )
    return [_clean(r) for r in rows.to_dict(orient="records")]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        elif isinstance(v, pd.Timestamp):
            v = None if pd.isna(v) else v.isoformat()
        elif v is pd.NaT:
            v = None
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out
