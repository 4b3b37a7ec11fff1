"""The list-price optimiser: one price per product and time slot, for everyone (DESIGN.md §8.2).

Demand around the current price follows the fitted elasticity, ``units(p) = units₀ · (p / p₀)^β``, so
profit ``(p − cost) · units(p)`` peaks at ``cost · β / (1 + β)`` when demand is elastic (β < −1) and rises
toward the upper bound when it is not. The optimum is then held inside the rules — price bounds around the
list price, a margin floor, a cap over the lowest competitor, no raise while a markdown is planned, no
change sooner than the rule allows — and lowered further when the stock would not sell within the
clearance horizon. Every recommendation names the reasons that decided it and carries the expected daily
profit at the current and the recommended price, with a 95 % interval drawn from the elasticity's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.pricing.elasticity import MAX_ABS_ELASTICITY

OBJECTIVES = ("profit", "gmv")
#: A change smaller than this share of the price is not worth making (and is reported as a hold).
MIN_CHANGE = 0.01
DRAWS = 2000


@dataclass(frozen=True)
class PriceRules:
    """The business rules a recommended price obeys."""

    lower: float = 0.7  # lowest price, as a multiple of the list price
    upper: float = 1.3  # highest price, as a multiple of the list price
    margin_floor: float = 0.05  # (price − cost) / price at least
    min_days_between_changes: int = 7
    competitor_premium: float = 0.05  # at most this much above the lowest competitor price
    clear_days: int | None = (
        90  # stock beyond this many days of sales is cleared by a lower price (None: off)
    )
    objective: Literal["profit", "gmv"] = "profit"

    def __post_init__(self) -> None:
        if not 0 < self.lower <= 1 <= self.upper <= 5:
            raise ValidationFailed("price bounds must satisfy 0 < lower ≤ 1 ≤ upper ≤ 5", field="lower")
        if not 0 <= self.margin_floor < 1:
            raise ValidationFailed(
                "the margin floor is a share of the price, from 0 to below 1", field="margin_floor"
            )
        if self.min_days_between_changes < 0 or (self.clear_days is not None and self.clear_days < 1):
            raise ValidationFailed("day counts must be positive", field="clear_days")
        if self.competitor_premium < 0:
            raise ValidationFailed("the competitor premium cannot be negative", field="competitor_premium")
        if self.objective not in OBJECTIVES:
            raise ValidationFailed(f"objective must be one of {', '.join(OBJECTIVES)}", field="objective")


@dataclass(frozen=True)
class ProductState:
    """What the optimiser knows about one product."""

    product_id: str
    list_price: float
    current_price: float
    cost: float | None
    elasticity: float
    elasticity_se: float
    elasticity_source: str = "own"  # own | pooled | category
    units_per_day: float = 0.0  # at the current price, recent shelf sales
    stock: int | None = None
    competitor_price: float | None = None
    days_since_change: int | None = None
    markdown_planned: bool = False  # a lower price is scheduled within 7 days
    lowest_recent_price: float | None = None  # lowest actual price of the previous 7 days


@dataclass
class Recommendation:
    product_id: str
    current_price: float
    price: float
    action: str  # raise | lower | hold
    reasons: list[dict[str, Any]]
    elasticity: float
    elasticity_low: float
    elasticity_high: float
    elasticity_source: str
    units_per_day: float
    expected_units: float
    profit_now: float | None
    profit: float | None
    profit_low: float | None
    profit_high: float | None
    gain_low: float | None
    gain_high: float | None
    confidence: float | None  # share of elasticity draws under which the change gains
    was_price: float | None  # the reference price that may be shown (never above the 7-day low)
    bounds: tuple[float, float] = field(default=(0.0, 0.0))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bounds"] = list(self.bounds)
        return out


def _reason(code: str, **detail: Any) -> dict[str, Any]:
    return {"code": code, **{k: round(v, 4) if isinstance(v, float) else v for k, v in detail.items()}}


def expected_units(state: ProductState, price: float, beta: float | np.ndarray) -> Any:
    """Units per day at ``price`` under elasticity ``beta`` (the constant-elasticity curve)."""
    return state.units_per_day * (price / state.current_price) ** beta


def _value(state: ProductState, price: float, beta: Any, objective: str) -> Any:
    units = expected_units(state, price, beta)
    if objective == "gmv" or state.cost is None:
        return price * units
    return (price - state.cost) * units


def recommend(state: ProductState, rules: PriceRules | None = None, *, seed: int = 0) -> Recommendation:
    """The recommended price of one product under ``rules`` (see the module docstring)."""
    rules = rules or PriceRules()
    if state.list_price <= 0 or state.current_price <= 0:
        raise ValidationFailed(f"product {state.product_id} has no positive price", field="price")
    if state.cost is not None and state.cost < 0:
        raise ValidationFailed(f"product {state.product_id} has a negative cost", field="cost")
    beta, se = state.elasticity, state.elasticity_se
    reasons: list[dict[str, Any]] = []
    objective = rules.objective if state.cost is not None else "gmv"
    if state.cost is None and rules.objective == "profit":
        reasons.append(_reason("no_cost"))
    if state.elasticity_source == "category":
        reasons.append(_reason("category_elasticity"))
    lo, hi = rules.lower * state.list_price, rules.upper * state.list_price
    if state.cost is not None:
        floor = state.cost / (1 - rules.margin_floor)
        if floor > lo:
            lo = floor
            reasons.append(_reason("margin_floor", floor=round(floor, 2)))
    if state.competitor_price is not None and state.competitor_price > 0:
        cap = state.competitor_price * (1 + rules.competitor_premium)
        if cap < hi:
            hi = cap
            reasons.append(_reason("competitor_cap", competitor=state.competitor_price, cap=round(cap, 2)))
    if state.markdown_planned and state.current_price < hi:
        hi = state.current_price
        reasons.append(_reason("markdown_planned"))
    if not (np.isfinite(beta) and -MAX_ABS_ELASTICITY < beta < MAX_ABS_ELASTICITY):
        beta = se = float("nan")
        state = replace(state, elasticity=beta, elasticity_se=se)
        price, reasons = state.current_price, [*reasons, _reason("no_elasticity")]
    elif lo > hi:
        price = state.current_price
        reasons.append(_reason("rules_conflict", lowest=round(lo, 2), highest=round(hi, 2)))
    elif state.days_since_change is not None and state.days_since_change < rules.min_days_between_changes:
        price = state.current_price
        reasons.append(_reason("changed_recently", days=state.days_since_change))
    else:
        if objective == "profit" and beta < -1:
            target = float(state.cost or 0) * beta / (1 + beta)
            reasons.append(_reason("optimum", elasticity=beta, markup=beta / (1 + beta)))
        elif objective == "profit":
            target = hi
            reasons.append(_reason("inelastic", elasticity=beta))
        else:
            target = lo if beta < -1 else hi
            reasons.append(_reason("gmv_elastic" if beta < -1 else "gmv_inelastic", elasticity=beta))
        if rules.clear_days and state.stock and state.units_per_day > 0 and beta < 0:
            cover = state.stock / expected_units(state, min(target, hi), beta)
            if cover > rules.clear_days:
                clear = state.current_price * (state.stock / (state.units_per_day * rules.clear_days)) ** (
                    1 / beta
                )
                if clear < target:
                    target = clear
                    reasons.append(
                        _reason("slow_stock", days_of_stock=round(cover, 1), clear_days=rules.clear_days)
                    )
        price = min(max(target, lo), hi)
        if price == lo and target < lo:
            reasons.append(_reason("lower_bound", bound=round(lo, 2)))
        elif price == hi and target > hi:
            reasons.append(_reason("upper_bound", bound=round(hi, 2)))
        price = round(price, 2)
        if abs(price / state.current_price - 1) < MIN_CHANGE:
            price = state.current_price
            reasons.append(_reason("small_change"))
    action = "hold" if price == state.current_price else ("raise" if price > state.current_price else "lower")
    draws = (
        np.random.default_rng(seed).normal(beta, se if np.isfinite(se) else 0.0, DRAWS)
        if np.isfinite(beta)
        else None
    )
    return _recommendation(state, price, action, reasons, draws, objective, (round(lo, 2), round(hi, 2)))


def _recommendation(
    state: ProductState,
    price: float,
    action: str,
    reasons: list[dict[str, Any]],
    draws: np.ndarray | None,
    objective: str,
    bounds: tuple[float, float],
) -> Recommendation:
    beta, se = state.elasticity, state.elasticity_se
    profit_now = profit = p_lo = p_hi = g_lo = g_hi = confidence = None
    units = state.units_per_day
    if draws is not None:
        units = float(expected_units(state, price, beta))
        if state.cost is not None:
            profit_now = float(_value(state, state.current_price, beta, "profit"))
            profit = float(_value(state, price, beta, "profit"))
            sims = _value(state, price, draws, "profit")
            gains = sims - _value(state, state.current_price, draws, "profit")
            p_lo, p_hi = (float(x) for x in np.percentile(sims, [2.5, 97.5]))
            g_lo, g_hi = (float(x) for x in np.percentile(gains, [2.5, 97.5]))
            confidence = float(np.mean(gains > 0)) if action != "hold" else None
    was = None
    if action == "lower" and state.lowest_recent_price is not None and state.lowest_recent_price > price:
        was = math.floor(min(state.lowest_recent_price, state.current_price) * 100 + 1e-9) / 100  # never up
        was = was if was > price else None
    z = 1.959963984540054
    return Recommendation(
        product_id=state.product_id,
        current_price=state.current_price,
        price=price,
        action=action,
        reasons=reasons,
        elasticity=beta,
        elasticity_low=beta - z * se if np.isfinite(se) else float("nan"),
        elasticity_high=beta + z * se if np.isfinite(se) else float("nan"),
        elasticity_source=state.elasticity_source,
        units_per_day=state.units_per_day,
        expected_units=units,
        profit_now=profit_now,
        profit=profit,
        profit_low=p_lo,
        profit_high=p_hi,
        gain_low=g_lo,
        gain_high=g_hi,
        confidence=confidence,
        was_price=was,
        bounds=bounds,
    )


def what_if(state: ProductState, price: float, *, seed: int = 0) -> dict[str, Any]:
    """Expected units, GMV and profit per day at ``price`` (95 % intervals from the elasticity's)."""
    if not price > 0:
        raise ValidationFailed("a price must be above zero", field="price")
    if not (np.isfinite(state.elasticity) and abs(state.elasticity) < MAX_ABS_ELASTICITY):
        raise InsufficientData(
            f"no elasticity can be estimated for {state.product_id} from its sales", field="product_id"
        )
    draws = np.random.default_rng(seed).normal(state.elasticity, state.elasticity_se, DRAWS)
    units = expected_units(state, price, draws)
    out: dict[str, Any] = {
        "product_id": state.product_id,
        "price": price,
        "current_price": state.current_price,
        "units": float(expected_units(state, price, state.elasticity)),
        "units_low": float(np.percentile(units, 2.5)),
        "units_high": float(np.percentile(units, 97.5)),
        "gmv": float(price * expected_units(state, price, state.elasticity)),
    }
    if state.cost is not None:
        profit = (price - state.cost) * units
        out.update(
            profit=float((price - state.cost) * expected_units(state, price, state.elasticity)),
            profit_low=float(np.percentile(profit, 2.5)),
            profit_high=float(np.percentile(profit, 97.5)),
            below_cost=price < state.cost,
        )
    return out
