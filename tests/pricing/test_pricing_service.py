"""Pricing on a real warehouse (a simulated world with shelf markdowns): fits kept and reused,
recommendations inside the rules, what-if, and the price rules of DESIGN.md §8.2–8.3 tried and refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.pricing import (
    PriceRules,
    apply_price,
    fit,
    latest_fit,
    price_history,
    recommend_prices,
    what_if_price,
)
from liveloop.pricing.guardrails import lowest_recent_price, shelf_price_at
from liveloop.pricing.service import data_now
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    wh = Warehouse.open(Settings(home=tmp_path_factory.mktemp("pricing-world"), data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=13, users=800, days=28, markdown_rate=0.1)
    yield wh
    wh.close()


def test_a_fit_is_kept_and_reused_until_refitted(world: Warehouse) -> None:
    first = fit(world)
    assert first["info"]["prices_on_record"] and first["info"]["context"] == "shelf"
    assert latest_fit(world)["fit_id"] == first["fit_id"]
    cats = {c["category"]: c for c in first["categories"]}
    identified = [c for c in cats.values() if c["identified"]]
    assert identified and all(c["elasticity"] < 0 for c in identified)
    sources = {p["source"] for p in first["products"]}
    assert "category" in sources  # sparse products borrow their category's elasticity, and say so
    assert latest_fit(world, refit=True)["fit_id"] != first["fit_id"]
    with pytest.raises(ValidationFailed) as err:
        fit(world, context="tv")
    assert err.value.field == "context"


def test_recommendations_stay_inside_the_rules_and_name_their_reasons(world: Warehouse) -> None:
    rules = PriceRules(lower=0.8, upper=1.2, min_days_between_changes=0)
    out = recommend_prices(world, rules=rules, limit=500)
    recs = out["recommendations"]
    assert recs and sum(out["counts"].values()) == out["products"] >= len(recs)
    for r in recs:
        lo, hi = r["bounds"]
        assert r["reasons"], r
        if r["action"] != "hold":
            assert lo - 0.01 <= r["price"] <= hi + 0.01
        assert "user_id" not in r  # one price for everyone: nothing about a viewer goes in or out
    gains = [(r["profit"] or 0) - (r["profit_now"] or 0) for r in recs]
    assert gains == sorted(gains, reverse=True)
    one = recs[0]["product_id"]
    again = recommend_prices(world, rules=rules, products=[one])["recommendations"][0]
    assert again["price"] == recs[0]["price"]  # the same inputs give the same price
    with pytest.raises(ValidationFailed):
        recommend_prices(world, limit=0)


def test_what_if_answers_with_intervals_and_unknown_products_are_named(world: Warehouse) -> None:
    product = latest_fit(world)["products"][0]["product"]
    out = what_if_price(world, product, 10.0)
    assert out["units_low"] <= out["units"] <= out["units_high"] and "now" in out
    with pytest.raises(NotFound) as err:
        what_if_price(world, "no-such-product", 10.0)
    assert err.value.field == "product_id"


def test_the_price_rules_refuse_what_they_forbid(world: Warehouse) -> None:
    at = data_now(world) + timedelta(days=1)
    product, cost = world.sql("SELECT product_id, cost::DOUBLE FROM products ORDER BY product_id LIMIT 1")[0]
    current = shelf_price_at(world, product, at)
    assert current is not None
    low = lowest_recent_price(world, product, at)
    assert low is not None and low <= current
    # a was-price above the 7-day low
    with pytest.raises(ValidationFailed) as err:
        apply_price(world, product, round(low * 0.9, 2), start=at, was_price=round(low + 1, 2), actor="t")
    assert err.value.field == "was_price"
    # below cost, unless declared a clearance; zero
    for bad in (round(cost * 0.8, 2), 0.0):
        with pytest.raises(ValidationFailed) as err:
            apply_price(world, product, bad, start=at, actor="t")
        assert err.value.field == "price"
    # a lawful markdown a week out, then a raise just before it is refused
    later = at + timedelta(days=5)
    done = apply_price(world, product, round(current * 0.9, 2), start=later, was_price=None, actor="t")
    assert done["kind"] in ("markdown", "list")
    with pytest.raises(ValidationFailed) as err:
        apply_price(world, product, round(current * 1.1, 2), start=at, actor="t")
    assert "markdown" in str(err.value) and err.value.field == "price"
    # one price per product and moment
    with pytest.raises(ValidationFailed) as err:
        apply_price(world, product, round(current * 0.9, 2), start=later, actor="t")
    assert err.value.field == "start"
    # the optimiser, reading the warehouse, sees the planned markdown: no raise before it
    planned = recommend_prices(world, products=[product], at=at, rules=PriceRules(min_days_between_changes=0))
    rec = planned["recommendations"][0]
    assert rec["bounds"][1] <= current + 0.01 and rec["price"] <= current
    if rec["price"] != current or any(r["code"] == "upper_bound" for r in rec["reasons"]):
        assert any(r["code"] == "markdown_planned" for r in rec["reasons"])
    rows = price_history(world, product)
    assert rows[0]["price_id"] == done["price_id"]
    audit = world.sql(
        "SELECT actor, decision FROM audit_log WHERE action = 'price.apply' AND subject = ?", [product]
    )
    assert audit == [("t", f"{round(current * 0.9, 2):.2f}")]
    # the refused attempts wrote nothing
    assert (
        world.sql("SELECT count(*) FROM prices WHERE product_id = ? AND created_by = 't'", [product])[0][0]
        == 1
    )


def test_a_competitor_price_in_the_product_currency_caps_the_price(world: Warehouse) -> None:
    product, list_price = world.sql(
        "SELECT product_id, price::DOUBLE FROM products WHERE product_id = ?",
        [latest_fit(world)["products"][2]["product"]],
    )[0]
    at = data_now(world)
    world.sql(
        "INSERT INTO competitor_prices VALUES ('c2', ?, 'jd', ?, ?, 'CNY', 't')",
        [product, at - timedelta(hours=1), round(list_price * 0.8, 2)],
    )
    try:
        rec = recommend_prices(
            world, products=[product], rules=PriceRules(lower=0.5, min_days_between_changes=0)
        )
        cap = round(list_price * 0.8 * 1.05, 2)
        first = rec["recommendations"][0]
        assert first["bounds"][1] == pytest.approx(cap, abs=0.01) and first["price"] <= cap + 0.01
        assert any(r["code"] == "competitor_cap" for r in first["reasons"])
    finally:
        world.sql("DELETE FROM competitor_prices WHERE observation_id = 'c2'")


def test_competitor_prices_in_another_currency_are_refused(world: Warehouse) -> None:
    product = latest_fit(world)["products"][1]["product"]
    at = data_now(world)
    world.sql(
        "INSERT INTO competitor_prices VALUES ('c1', ?, 'jd', ?, 9.99, 'USD', 't')",
        [product, at - timedelta(hours=1)],
    )
    try:
        with pytest.raises(ValidationFailed) as err:
            recommend_prices(world, products=[product])
        assert err.value.field == "currency" and "USD" in str(err.value)
    finally:
        world.sql("DELETE FROM competitor_prices WHERE observation_id = 'c1'")


def test_price_histories_and_competitor_prices_import_with_their_rules(wh: Warehouse, tmp_path: Path) -> None:
    from liveloop.ingest import import_file

    prices = tmp_path / "prices.csv"
    prices.write_text(
        "product_id,start_ts,end_ts,price,kind,was_price\n"
        "p1,2026-11-01 00:00,,99.00,list,\n"
        "p1,2026-11-08 00:00,2026-11-11 00:00,89.00,markdown,99.00\n"
        "p1,2026-11-20 00:00,2026-11-19 00:00,79.00,markdown,\n"
        "p1,2026-11-21 00:00,,0,list,\n"
        "p1,2026-11-22 00:00,,59.00,flash,\n",
        encoding="utf-8",
    )
    report = import_file(wh, prices, adapter="native", table="prices")
    assert (report.loaded, report.quarantined) == (2, 3)
    rivals = tmp_path / "rivals.csv"
    rivals.write_text(
        "product_id,competitor,ts,price,currency\n"
        "p1,jd,2026-11-01 10:00,95.00,CNY\n"
        "p1,jd,2026-11-02 10:00,-1,CNY\n",
        encoding="utf-8",
    )
    report = import_file(wh, rivals, adapter="native", table="competitor_prices")
    assert (report.loaded, report.quarantined) == (1, 1)
    reasons = {r[0] for r in wh.sql("SELECT reason FROM quarantine")}
    assert {"bad_interval", "not_positive", "unknown_price_kind"} <= {r.split(":")[0] for r in reasons}
