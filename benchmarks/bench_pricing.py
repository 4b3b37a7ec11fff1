"""Pricing (``liveloop.pricing``): elasticities against real scanner data and the simulator's truth, and
the list-price optimiser's realised profit against the Oracle's optimum under the same rules.

1. **Dominick's orange juice** (``bayesm_retail_pricing``: 83 stores x 11 brands x 121 weeks). liveloop's
   conditional Poisson model (store x brand effects absorbed, week effects, deal and feature controls,
   intervals clustered by store) per brand, beside two log-log OLS regressions run in the same process
   on the same rows: the pooled one (one slope, no fixed effects) and the brand-specific one with
   store x brand and week fixed effects (the published specification's form), and the textbook form
   (brand intercepts and slopes only). Published brand slopes for comparison: Dominick's -3.9, Minute
   Maid -2.7, Tropicana -2.1 (64 oz).
2. **Market simulator**, shelf markdowns on (``REALISTIC_MARKDOWN_RATE``), ``medium`` preset (30,000 users,
   3,000 products, 45 days): the world developed on (seed 7) and three it was not (seed 8; seed 21 with the
   utility's discount and funnel constants perturbed; seed 5 with twice the markdown rate). Truth: the
   purchase-weighted elasticity d log P(buy | view) / d log price over the shelf views the data holds,
   per category and per product. Reported: the error of each category's estimate, the coverage of its
   95 % interval, and the error of products with an estimate of their own against their category's.
3. **Prices**: 300 products drawn at random per world. The realised profit of a price is the Oracle's
   expected profit over the product's actual shelf viewers; the Oracle's optimum is searched over the
   same allowed range (0.7-1.3 x list, the margin floor); liveloop's price comes from its fitted
   elasticities alone. Beside it: the list price held fixed, and cost-plus at the catalogue's median
   markup. Goal: liveloop >= 95 % of the Oracle's profit.
4. **Speed**: a fit on the medium world, recommendations for every product.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.machine import machine
from liveloop.core.config import Settings
from liveloop.datasets.loader import load
from liveloop.datasets.simulator import ModelParams, Oracle, SimConfig, simulate_into_warehouse
from liveloop.datasets.simulator.config import REALISTIC_MARKDOWN_RATE
from liveloop.datasets.simulator.into_warehouse import simulator_dir
from liveloop.pricing import PriceRules, estimate, recommend
from liveloop.pricing import service as pricing
from liveloop.warehouse import Warehouse

BRANDS = {4: "Tropicana 64 oz", 5: "Minute Maid 64 oz", 10: "Dominick's 64 oz"}
PUBLISHED = {4: -2.1, 5: -2.7, 10: -3.9}
WORLDS: tuple[tuple[str, int, dict[str, float], float], ...] = (
    ("developed on: seed 7", 7, {}, REALISTIC_MARKDOWN_RATE),
    ("held out: seed 8", 8, {}, REALISTIC_MARKDOWN_RATE),
    (
        "held out: seed 21, perturbed",
        21,
        {"g_discount": 1.2, "c_buy_given_cart": -0.4},
        REALISTIC_MARKDOWN_RATE,
    ),
    ("held out: seed 5, markdowns x2", 5, {}, 2 * REALISTIC_MARKDOWN_RATE),
)
PRODUCTS_PRICED = 300
RULES = PriceRules(min_days_between_changes=0, clear_days=None)  # the Oracle knows no stock or timing


def orange_juice() -> dict[str, Any]:
    oj = load("bayesm_retail_pricing")["orangejuice_yx.csv.gz"]
    brand = oj["brand"].to_numpy()
    own = oj[[f"price{i}" for i in range(1, 12)]].to_numpy()[np.arange(len(oj)), brand - 1]
    cells = pd.DataFrame(
        {"product": brand.astype(str), "category": brand.astype(str), "group": oj["store"],
         "period": oj["week"], "units": np.round(np.exp(oj["logmove"])), "price": own, "deal": oj["deal"],
         "feat": oj["feat"]}
    )  # fmt: skip
    t = time.perf_counter()
    fit = estimate(cells, promos=("deal", "feat"), cluster="group")
    seconds = time.perf_counter() - t
    cats = fit.categories.set_index("category")
    # log-log OLS, pooled: logmove ~ log price + deal + feat
    y = oj["logmove"].to_numpy()
    X = np.column_stack([np.ones(len(oj)), np.log(own), oj["deal"], oj["feat"]])
    pooled = float(np.linalg.lstsq(X, y, rcond=None)[0][1])
    # log-log OLS with brand slopes, store x brand and week fixed effects (Frisch-Waugh: demean by group)
    group = oj["store"].astype(str) + "-" + oj["brand"].astype(str)
    slopes = np.zeros((len(oj), 11))
    slopes[np.arange(len(oj)), brand - 1] = np.log(own)
    weeks = pd.get_dummies(oj["week"], drop_first=True).to_numpy(float)
    Z = np.column_stack([slopes, oj["deal"], oj["feat"], weeks])

    def demean(a: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(a)
        return (frame - frame.groupby(group.to_numpy()).transform("mean")).to_numpy()

    beta = np.linalg.lstsq(demean(Z), demean(y[:, None])[:, 0], rcond=None)[0]
    # the textbook form: brand intercepts and slopes, no store, week or promotion terms
    brand_x = np.zeros((len(oj), 22))
    brand_x[np.arange(len(oj)), brand - 1] = 1.0
    brand_x[np.arange(len(oj)), 11 + brand - 1] = np.log(own)
    textbook = np.linalg.lstsq(brand_x, y, rcond=None)[0][11:]
    rows = []
    for b, name in BRANDS.items():
        c = cats.loc[str(b)]
        rows.append(
            {
                "brand": name,
                "liveloop": round(float(c["elasticity"]), 3),
                "liveloop_95": [round(float(c["low"]), 3), round(float(c["high"]), 3)],
                "ols_fixed_effects": round(float(beta[b - 1]), 3),
                "ols_pooled": round(pooled, 3),
                "ols_brand_slopes_no_controls": round(float(textbook[b - 1]), 3),
                "published": PUBLISHED[b],
            }
        )
    promos = fit.promotions.set_index("promotion")
    return {
        "brands": rows,
        "all_brands": {str(k): round(float(v), 3) for k, v in cats["elasticity"].items()},
        "feature_lift": [round(float(promos.loc["feat", x]), 3) for x in ("lift", "low", "high")],
        "deal_lift": [round(float(promos.loc["deal", x]), 3) for x in ("lift", "low", "high")],
        "rows": len(cells),
        "fit_seconds": round(seconds, 1),
    }


def _world(home: Path, seed: int, params: dict[str, float], rate: float) -> tuple[Warehouse, Oracle]:
    cfg = SimConfig.preset("medium", seed=seed).with_(params=ModelParams(markdown_rate=rate, **params))
    wh = Warehouse.open(Settings(home=home))
    simulate_into_warehouse(wh, config=cfg)
    return wh, Oracle.load(simulator_dir(wh) / "truth")


def _shelf_views(wh: Warehouse, oracle: Oracle) -> pd.DataFrame:
    views = wh.df(
        "SELECT e.user_id, e.product_id, p.category, epoch(e.ts) AS t FROM events e "
        "JOIN products p USING (product_id) WHERE e.type = 'view' AND e.session_id IS NULL"
    )
    views["day"] = ((views["t"] - oracle.world.t0) // 86_400).astype(int)
    return views


def _truth(views: pd.DataFrame, oracle: Oracle) -> pd.DataFrame:
    """Purchase-weighted true elasticity per view (P and P·ε), at the price each view saw."""
    p = np.zeros(len(views))
    pe = np.zeros(len(views))
    for day, idx in views.groupby("day").indices.items():
        users = views["user_id"].to_numpy()[idx]
        products = views["product_id"].to_numpy()[idx]
        prob = oracle.purchase_probability(users, products, day=int(day))
        p[idx] = prob
        pe[idx] = prob * oracle.elasticity(users, products, day=int(day))
    return views.assign(P=p, PE=pe)


def _simulated(name: str, seed: int, params: dict[str, float], rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        wh, oracle = _world(Path(tmp), seed, params, rate)
        try:
            t = time.perf_counter()
            fitted = pricing.fit(wh)
            fit_s = time.perf_counter() - t
            views = _truth(_shelf_views(wh, oracle), oracle)
            cat_truth = views.groupby("category")[["PE", "P"]].sum()
            cat_truth = cat_truth["PE"] / cat_truth["P"]
            cats = []
            for c in fitted["categories"]:
                truth = float(cat_truth.get(c["category"], np.nan))
                cats.append({"category": c["category"], "estimate": c["elasticity"], "truth": round(truth, 3),
                             "covered": bool(c["low"] <= truth <= c["high"])})  # fmt: skip
            prod_truth = views.groupby("product_id")[["PE", "P"]].sum()
            prod_truth = prod_truth["PE"] / prod_truth["P"]
            cat_of = {c["category"]: c["elasticity"] for c in fitted["categories"]}
            own = [p for p in fitted["products"] if p["source"] in ("own", "pooled")]
            errors = [
                abs(p["elasticity"] - prod_truth[p["product"]]) for p in own if p["product"] in prod_truth
            ]
            cat_errors = [
                abs(cat_of[p["category"]] - prod_truth[p["product"]])
                for p in own
                if p["product"] in prod_truth
            ]
            t = time.perf_counter()
            at = pricing.data_now(wh)
            states = pricing._states(wh, fitted, at, None)
            rec_s = time.perf_counter() - t
            prices = _prices(wh, oracle, states, views, seed)
        finally:
            wh.close()
    return {
        "world": name,
        "categories": cats,
        "category_mae": round(float(np.mean([abs(c["estimate"] - c["truth"]) for c in cats])), 3),
        "category_coverage": f"{sum(c['covered'] for c in cats)}/{len(cats)}",
        "products_with_own_estimate": len(own),
        "own_mae": round(float(np.mean(errors)), 3) if errors else None,
        "category_estimate_mae_on_same_products": round(float(np.mean(cat_errors)), 3)
        if cat_errors
        else None,
        "prices": prices,
        "fit_seconds": round(fit_s, 1),
        "states_seconds": round(rec_s, 1),
    }


def _prices(
    wh: Warehouse, oracle: Oracle, states: list[Any], views: pd.DataFrame, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    markup = float(np.median([(s.list_price - s.cost) / s.cost for s in states if s.cost]))
    viewers = views.groupby("product_id")["user_id"].apply(lambda s: s.to_numpy())
    chosen = [states[i] for i in rng.choice(len(states), min(PRODUCTS_PRICED, len(states)), replace=False)]
    totals = {"oracle": 0.0, "liveloop": 0.0, "list price": 0.0, "cost-plus": 0.0}
    t = time.perf_counter()
    for s in chosen:
        rec = recommend(s, RULES)
        lo, hi = rec.bounds
        users = viewers.get(s.product_id)
        if users is None or len(users) < 5:
            users = np.array(
                [f"s{oracle.world.config.seed}u{i:07d}" for i in range(0, oracle.world.users.n, 10)]
            )

        def profit(price: float, s: Any = s, users: Any = users) -> float:
            found = oracle.optimal_price(s.product_id, grid=[round(price, 2)], user_ids=users)
            return float(found["expected_profit_per_view"]) * len(users)

        best = oracle.optimal_price(s.product_id, grid=np.round(np.linspace(lo, hi, 61), 2), user_ids=users)
        totals["oracle"] += float(best["expected_profit_per_view"]) * len(users)
        totals["liveloop"] += profit(rec.price)
        totals["list price"] += profit(min(max(s.list_price, lo), hi))
        totals["cost-plus"] += profit(min(max(float(s.cost) * (1 + markup), lo), hi))
    return {
        "products": len(chosen),
        "share_of_oracle_profit": {k: round(v / totals["oracle"], 4) for k, v in totals.items()},
        "cost_plus_markup": round(markup, 3),
        "seconds": round(time.perf_counter() - t, 1),
    }


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "orange_juice": orange_juice()}
    print(out["orange_juice"], flush=True)
    out["simulator"] = []
    for name, seed, params, rate in WORLDS:
        result = _simulated(name, seed, params, rate)
        print(result["world"], result["category_mae"], result["category_coverage"],
              result["prices"]["share_of_oracle_profit"], flush=True)  # fmt: skip
        out["simulator"].append(result)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, default=str))
