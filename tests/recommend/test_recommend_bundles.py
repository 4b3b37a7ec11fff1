"""Association rules on the real arules Groceries baskets, and bundles from a warehouse."""

from __future__ import annotations

import pyarrow as pa
import pytest

from liveloop.core.errors import NotFound
from liveloop.recommend.bundles import BundleIndex, groceries_baskets, mine_rules, product_bundles


@pytest.fixture(scope="module")
def rules(data_home):
    return mine_rules(groceries_baskets(), min_support=0.001, min_confidence=0.8)


@pytest.mark.slow
def test_groceries_rules_match_arules(rules) -> None:
    baskets = groceries_baskets()
    assert len(baskets) == 9835 and sum(map(len, baskets)) == 43_367
    items = {i for b in baskets for i in b}
    # arules' labels keep their trailing spaces; a stripped line would split these into two items each
    assert len(items) == 169 and {"cream cheese ", "roll products "} <= items
    assert "cream cheese" not in items and "roll products" not in items
    # the published arules run (support 0.001, confidence 0.8): 410 rules, lengths 3:29, 4:229, 5:140, 6:12
    lengths = (rules["antecedents"].map(len) + 1).value_counts().to_dict()
    assert lengths == {3: 29, 4: 229, 5: 140, 6: 12}
    assert len(rules) == 410
    assert (rules["confidence"] >= 0.8 - 1e-12).all() and (rules["support"] >= 0.001).all()
    top = rules.iloc[0]
    assert set(top["antecedents"]) == {"liquor", "red/blush wine"} and set(top["consequents"]) == {
        "bottled beer"
    }
    assert top["lift"] == pytest.approx(11.235, abs=1e-3)


def test_support_confidence_lift_are_consistent(rules) -> None:
    baskets = [set(b) for b in groceries_baskets()]
    n = len(baskets)
    for row in rules.head(20).itertuples(index=False):
        both = sum(1 for b in baskets if row.antecedents | row.consequents <= b)
        lhs = sum(1 for b in baskets if row.antecedents <= b)
        rhs = sum(1 for b in baskets if row.consequents <= b)
        assert row.support == pytest.approx(both / n)
        assert row.confidence == pytest.approx(both / lhs)
        assert row.lift == pytest.approx((both / lhs) / (rhs / n))


def test_bundle_index_lookup(rules) -> None:
    index = BundleIndex(rules)
    found = index.for_item("liquor")
    assert found and found[0]["items"] == ["bottled beer"] and "liquor" in found[0]["with"]
    assert index.for_item("no such thing") == []


def test_product_bundles_from_warehouse_orders(wh) -> None:
    wh.append("products", pa.table({"product_id": ["a", "b", "c"], "title": ["A", "B", "C"]}))
    lines = [("o1", "a"), ("o1", "b"), ("o2", "a"), ("o2", "b"), ("o3", "a"), ("o3", "c"), ("o4", "b")]
    wh.append(
        "order_items",
        pa.table(
            {
                "order_id": [o for o, _ in lines],
                "line_no": list(range(len(lines))),
                "product_id": [p for _, p in lines],
                "quantity": [1] * len(lines),
                "unit_price": [1.0] * len(lines),
                "amount": [1.0] * len(lines),
            }
        ),
    )
    out = product_bundles(wh, "a", min_support=0.1, min_confidence=0.5)
    assert out["bundles"][0]["items"] == ["b"]
    assert out["bundles"][0]["confidence"] == pytest.approx(2 / 3, abs=1e-4)
    with pytest.raises(NotFound):
        product_bundles(wh, "zzz")
