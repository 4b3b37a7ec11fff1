"""The list-price optimiser: the analytic optimum, each rule binding in turn with its reason, the intervals,
and a was-price that is never above the 7-day low (DESIGN.md §8.3)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.pricing.optimiser import PriceRules, ProductState, recommend, what_if

BASE = ProductState(
    product_id="p1",
    list_price=100.0,
    current_price=100.0,
    cost=50.0,
    elasticity=-3.0,
    elasticity_se=0.2,
    units_per_day=10.0,
    stock=100,
    lowest_recent_price=100.0,
)


def codes(rec) -> list[str]:
    return [r["code"] for r in rec.reasons]


def test_elastic_demand_prices_at_the_markup_rule() -> None:
    rec = recommend(BASE)  # cost 50, β = −3 → 50 · 3/2 = 75
    assert rec.price == 75.0 and rec.action == "lower" and "optimum" in codes(rec)
    assert rec.profit > rec.profit_now  # type: ignore[operator]
    assert rec.profit_low < rec.profit < rec.profit_high  # type: ignore[operator]
    assert rec.confidence is not None and rec.confidence > 0.95
    grid = np.linspace(70, 130, 601)  # the analytic optimum is the best price on a fine grid
    profits = [(p - 50) * 10 * (p / 100) ** -3 for p in grid]
    assert abs(grid[int(np.argmax(profits))] - 75) < 0.2


def test_inelastic_demand_goes_to_the_upper_bound_and_gmv_objective_differs() -> None:
    rec = recommend(replace(BASE, elasticity=-0.6))
    assert rec.price == 130.0 and codes(rec)[:1] == ["inelastic"] and "upper_bound" not in codes(rec)
    gmv = recommend(BASE, PriceRules(objective="gmv"))  # elastic: revenue grows as the price falls
    assert gmv.price == 70.0 and "gmv_elastic" in codes(gmv)


def test_each_rule_binds_with_its_reason() -> None:
    floor = recommend(replace(BASE, cost=70.0, elasticity=-8.0), PriceRules(margin_floor=0.2))
    assert floor.price == 87.5 and "margin_floor" in codes(floor)  # 70 / (1 − 0.2)
    rival = recommend(replace(BASE, elasticity=-0.5, competitor_price=110.0))
    assert rival.price == 115.5 and "competitor_cap" in codes(rival)
    planned = recommend(replace(BASE, elasticity=-0.5, markdown_planned=True))
    assert planned.action == "hold" and "markdown_planned" in codes(planned)
    recent = recommend(replace(BASE, days_since_change=2))
    assert recent.action == "hold" and "changed_recently" in codes(recent)
    conflict = recommend(replace(BASE, cost=99.0, competitor_price=80.0))
    assert conflict.action == "hold" and "rules_conflict" in codes(conflict)
    slow = recommend(
        replace(BASE, elasticity=-1.5, cost=20.0, stock=5000, units_per_day=2.0), PriceRules(lower=0.3)
    )
    assert "slow_stock" in codes(slow) and slow.price < 60.0  # β/(1+β)·cost = 60 before clearing
    unknown = recommend(replace(BASE, elasticity=float("nan"), elasticity_se=float("nan")))
    assert unknown.action == "hold" and "no_elasticity" in codes(unknown) and unknown.profit is None
    borrowed = recommend(replace(BASE, elasticity_source="category"))
    assert "category_elasticity" in codes(borrowed)
    small = recommend(replace(BASE, cost=66.5, elasticity=-3.0))  # optimum 99.75: not worth a change
    assert small.action == "hold" and "small_change" in codes(small)


@settings(max_examples=200, deadline=None)
@given(
    current=st.floats(10, 500),
    low_ratio=st.floats(0.5, 1.0),
    beta=st.floats(-6, -0.2),
    cost_share=st.floats(0.1, 0.9),
)
def test_a_markdown_never_shows_a_was_price_above_the_seven_day_low(
    current: float, low_ratio: float, beta: float, cost_share: float
) -> None:
    state = replace(
        BASE,
        list_price=current,
        current_price=current,
        cost=current * cost_share,
        elasticity=beta,
        lowest_recent_price=current * low_ratio,
    )
    rec = recommend(state, PriceRules(margin_floor=0.0, clear_days=None))
    lo, hi = rec.bounds
    assert lo - 0.01 <= rec.price <= hi + 0.01 or rec.action == "hold"
    if rec.was_price is not None:
        assert rec.was_price <= state.lowest_recent_price + 1e-9  # type: ignore[operator]
        assert rec.was_price > rec.price


def test_what_if_and_bad_rules() -> None:
    out = what_if(BASE, 80.0)
    assert out["units"] == pytest.approx(10 * 0.8**-3)
    assert out["profit_low"] < out["profit"] < out["profit_high"] and not out["below_cost"]
    assert what_if(BASE, 40.0)["below_cost"]
    with pytest.raises(ValidationFailed) as err:
        what_if(BASE, 0.0)
    assert err.value.field == "price"
    for bad, field in (
        ({"lower": 1.2}, "lower"),
        ({"margin_floor": 1.0}, "margin_floor"),
        ({"objective": "volume"}, "objective"),
        ({"competitor_premium": -0.1}, "competitor_premium"),
    ):
        with pytest.raises(ValidationFailed) as err:
            PriceRules(**bad)
        assert err.value.field == field


def test_an_absurd_elasticity_is_not_priced_with() -> None:
    rec = recommend(replace(BASE, elasticity=-73350.0, elasticity_se=1.0))
    assert rec.action == "hold" and "no_elasticity" in codes(rec) and np.isnan(rec.elasticity)
    with pytest.raises(InsufficientData):
        what_if(replace(BASE, elasticity=-73350.0), 80.0)
