"""The elasticity model: it recovers known elasticities and promotion lifts from a panel drawn from the very
model it assumes, says "not identifiable" instead of a number, refuses bad input, and reads real scanner
data (Dominick's orange juice) with the signs and sizes the literature reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets import load
from liveloop.pricing.elasticity import estimate

TRUE = {"beauty": -2.5, "food": -0.6}
LIFT = 0.4  # feature-ad lift


def _panel(seed: int = 3, products_per_cat: int = 30, weeks: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    season = rng.normal(0, 0.3, weeks)
    for cat, beta in TRUE.items():
        for j in range(products_per_cat):
            base = rng.uniform(10, 100)
            level = rng.normal(1.5, 0.5)
            for store in ("a", "b"):
                for w in range(weeks):
                    price = base * rng.choice([1.0, 0.9, 0.8, 1.1])
                    feat = int(rng.random() < 0.2)
                    mu = 3.0 * np.exp(level + season[w] + beta * np.log(price / base) + np.log1p(LIFT) * feat)
                    rows.append((f"{cat}{j}", cat, store, w, rng.poisson(mu), price, feat))
    return pd.DataFrame(rows, columns=["product", "category", "group", "period", "units", "price", "feat"])


def test_recovers_category_elasticities_and_a_promotion_lift() -> None:
    """Over ten panels: unbiased (mean within 0.05 of the truth) and the 95 % intervals cover the truth
    about 95 % of the time (at least 8 of 10 per category); the lift and the season are recovered too."""
    fits = [estimate(_panel(seed=seed), promos=("feat",)) for seed in range(10)]
    for cat, beta in TRUE.items():
        rows = [f.categories.set_index("category").loc[cat] for f in fits]
        assert abs(np.mean([r["elasticity"] for r in rows]) - beta) < 0.05, cat
        assert sum(r["low"] <= beta <= r["high"] for r in rows) >= 8, cat
        assert all(r["high"] - r["low"] < 0.6 for r in rows)
    assert sum(f.promotions.iloc[0]["low"] <= LIFT <= f.promotions.iloc[0]["high"] for f in fits) >= 8
    # seasonality: the period index follows the drawn season (up to a constant)
    index = np.log(fits[3].periods["index"].to_numpy())
    truth = np.random.default_rng(3).normal(0, 0.3, 30)
    assert np.corrcoef(index, truth)[0, 1] > 0.9


def test_products_are_pooled_toward_their_category_and_sparse_ones_borrow_it() -> None:
    panel = _panel()
    sparse = panel["product"] == "food0"
    panel.loc[sparse, "units"] = (panel.loc[sparse, "units"] > 0).astype(int) * (
        panel.loc[sparse, "period"] < 3
    )
    one_price = panel["product"] == "beauty1"
    panel.loc[one_price, "price"] = 42.0
    products = estimate(panel, min_units=20).products.set_index("product")
    assert products.loc["beauty1", "reason"] == "one_price"
    assert products.loc["beauty1", "source"] == "category"
    assert products.loc["food0", "reason"] == "too_few_sales"
    cat = estimate(panel).categories.set_index("category")
    assert products.loc["food0", "elasticity"] == pytest.approx(cat.loc["food", "elasticity"])
    own = products[products["source"].isin(["own", "pooled"])]
    assert len(own) > 30
    # pooled estimates sit between the product's own and its category's
    for _, row in own.iterrows():
        c = cat.loc[row["category"], "elasticity"]
        assert min(row["own"], c) - 1e-9 <= row["elasticity"] <= max(row["own"], c) + 1e-9
    # and, on average, closer to the truth than the products' own noisy slopes
    truth = own["category"].map(TRUE)
    assert np.mean(np.abs(own["elasticity"] - truth)) < np.mean(np.abs(own["own"] - truth))


def test_a_category_whose_price_never_moved_is_not_given_a_number() -> None:
    panel = _panel()
    panel.loc[panel["category"] == "food", "price"] = 10.0
    cats = estimate(panel).categories.set_index("category")
    assert not cats.loc["food", "identified"] and np.isnan(cats.loc["food", "elasticity"])
    assert cats.loc["beauty", "identified"]
    products = estimate(panel).products
    assert (products.loc[products["category"] == "food", "source"] == "none").all()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.assign(price=d["price"].where(d.index != 5, 0.0)), "price"),
        (lambda d: d.assign(price=d["price"].where(d.index != 5, -3.0)), "price"),
        (lambda d: d.assign(units=d["units"].where(d.index != 5, -1)), "units"),
        (lambda d: d.drop(columns=["period"]), "period"),
    ],
)
def test_bad_panels_are_refused_with_the_field(change, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        estimate(change(_panel(products_per_cat=3, weeks=5)))
    assert err.value.field == field


def test_orange_juice_brands_have_negative_elasticities_near_the_published_range(data_home: Path) -> None:
    """Dominick's OJ, 20 stores: every brand's own-price elasticity is negative with an interval that
    excludes 0, the 64 oz brands fall in the published −2 to −4 range, and a feature ad lifts sales."""
    oj = load("bayesm_retail_pricing", Settings(data_home=data_home))["orangejuice_yx.csv.gz"]
    oj = oj[oj["store"].isin(sorted(oj["store"].unique())[:20])]
    own = oj[[f"price{i}" for i in range(1, 12)]].to_numpy()[np.arange(len(oj)), oj["brand"].to_numpy() - 1]
    cells = pd.DataFrame(
        {
            "product": oj["brand"].astype(str),
            "category": oj["brand"].astype(str),
            "group": oj["store"],
            "period": oj["week"],
            "units": np.round(np.exp(oj["logmove"])),
            "price": own,
            "deal": oj["deal"],
            "feat": oj["feat"],
        }
    )
    result = estimate(cells, promos=("deal", "feat"), cluster="group")
    cats = result.categories.set_index("category")
    assert (cats["high"] < 0).all(), cats
    for brand in ("4", "5", "10"):  # Tropicana, Minute Maid, Dominick's 64 oz
        assert -4.5 < cats.loc[brand, "elasticity"] < -2.0, cats.loc[brand]
    feat = result.promotions.set_index("promotion").loc["feat"]
    assert feat["low"] > 0.3


def test_the_between_product_spread_is_found_by_likelihood_and_not_inflated_by_one_product() -> None:
    from liveloop.pricing.elasticity import between_variance

    rng = np.random.default_rng(0)
    se = rng.uniform(0.2, 1.0, 400)
    spread = [between_variance(rng.normal(-2, np.sqrt(0.25 + se**2)), se) for _ in range(5)]
    assert all(0.12 < t < 0.45 for t in spread), spread
    none = rng.normal(-2, se)
    assert between_variance(none, se) < 0.05
    off = none.copy()
    off[0] = -9.0  # one precise-looking product far off
    assert between_variance(off, se) < 0.1


def test_a_slope_the_data_cannot_bound_is_not_identified_not_a_huge_number() -> None:
    """Every food sale happened at the lower of two prices (separable: the likelihood has no maximum)."""
    panel = _panel(products_per_cat=10, weeks=8)
    food = panel["category"] == "food"
    low = panel.groupby("product")["price"].transform("min")
    panel.loc[food, "units"] = np.where(panel.loc[food, "price"] == low[food], 5, 0)
    cats = estimate(panel).categories.set_index("category")
    assert not cats.loc["food", "identified"] and np.isnan(cats.loc["food", "elasticity"])
    assert cats.loc["beauty", "identified"]
