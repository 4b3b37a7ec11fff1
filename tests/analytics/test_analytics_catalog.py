"""The product catalogue with its sales (paged, searched) and one product's page, on a simulated world."""

from __future__ import annotations

import pytest

from liveloop.analytics.catalog import ProductQuery, list_products, product_detail, search
from liveloop.core.errors import NotFound, ValidationFailed


@pytest.fixture
def world(wh):
    from liveloop.datasets.simulator import simulate_into_warehouse

    simulate_into_warehouse(wh, scale="small", seed=11, users=60, days=2)
    return wh


def test_products_pages_best_sellers_first_with_true_sales(world):
    total = world.sql("SELECT count(*) FROM products")[0][0]
    pages, offset = [], 0
    while offset is not None:
        page = list_products(world, ProductQuery(limit=7, offset=offset))
        assert page["total"] == total
        pages += page["items"]
        offset = page["next_offset"]
    assert len(pages) == total and len({p["product_id"] for p in pages}) == total
    gmv = [p["gmv"] for p in pages]
    assert gmv == sorted(gmv, reverse=True) and gmv[0] > 0
    paid = world.sql(
        "SELECT sum(i.amount), sum(i.quantity) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.status NOT IN ('cancelled', 'refunded', 'failed')"
    )[0]
    assert sum(gmv) == pytest.approx(float(paid[0])) and sum(p["units"] for p in pages) == paid[1]
    top = pages[0]
    detail = product_detail(world, top["product_id"])
    assert (detail["units"], detail["gmv"]) == (top["units"], top["gmv"])
    assert detail["buyers"] and all(b["units"] > 0 for b in detail["buyers"])
    lineups = world.sql(
        "SELECT count(*) FROM live_sessions WHERE list_contains(lineup, ?)", [top["product_id"]]
    )
    assert len(detail["sessions"]) == min(lineups[0][0], 20)


def test_products_by_name_or_category_and_bad_queries(world):
    pid, title_en, category = world.sql("SELECT product_id, title_en, category FROM products LIMIT 1")[0]
    found = list_products(world, ProductQuery(search=title_en.upper()))
    assert pid in [p["product_id"] for p in found["items"]]
    beauty = list_products(world, ProductQuery(category=category, limit=200))
    assert beauty["items"] and {p["category"] for p in beauty["items"]} == {category}
    with pytest.raises(ValidationFailed):
        list_products(world, ProductQuery(limit=0))
    with pytest.raises(NotFound):
        product_detail(world, "no-such-product")
    assert search(world, pid)["products"][0]["product_id"] == pid  # the exact id first
    with pytest.raises(ValidationFailed):
        search(world, " ")
