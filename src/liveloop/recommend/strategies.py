"""Table 2: recommendation strategies compared in a simulated A/B test with known true relevance.

Strategies (as in the reference study): manual picks (popularity only), collaborative filtering (ALS),
deep sequential recommendation (SASRec) and the hybrid (LambdaRank over CF candidates). A simulated
world is generated and imported into a throw-away warehouse; every strategy trains on the first 80% of
its time line; users are randomised into four equal arms; each arm's users see that strategy's top-k
on ``visits`` visits. Clicks and purchases are drawn from the simulator's ground truth (Oracle), so the
comparison is of the strategies alone. Users are split by the experiment engine's hashed assignment and
every figure is analysed as the engine analyses an A/B test: delta-method 95% intervals over users, and
each strategy against manual picks with Fieller intervals and Holm-adjusted p-values.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from liveloop.core.config import get_settings
from liveloop.experiments import stats
from liveloop.experiments.assignment import cumulative, pick_arm
from liveloop.recommend.base import Retriever, mask_seen, top_k
from liveloop.recommend.factorization import ALS
from liveloop.recommend.hybrid import HybridRanker
from liveloop.recommend.knn import ItemKNN
from liveloop.recommend.popularity import Popularity
from liveloop.recommend.sequential import SASRec
from liveloop.recommend.sources import from_warehouse
from liveloop.recommend.splits import time_split

#: Traffic cost per impression (CNY) used for ROI = (GMV - cost of goods) / traffic cost.
COST_PER_IMPRESSION = 0.05


HYBRID = "hybrid (CF + deep, LambdaRank)"


def strategies(seed: int, epochs: int = 10) -> dict[str, Retriever]:
    return {
        "manual (popularity)": Popularity(),
        "CF (ALS)": ALS(seed=seed),
        "deep sequential (SASRec)": SASRec(epochs=epochs, seed=seed),
        # without the live-now feature, as in the published Table 2 (`recommend train` adds it where it
        # helps on its holdout)
        HYBRID: HybridRanker(
            [ALS(seed=seed), ItemKNN(), SASRec(epochs=epochs, seed=seed)],
            value_weight="auto",
            live=False,
            seed=seed,
        ),
    }


def _interval(num: np.ndarray, den: np.ndarray | None) -> list[float]:
    """95% interval of ``sum(num) / sum(den)`` (or the mean of ``num``) by the engine's delta method."""
    (est,), _ = stats.estimates({"arm": (num, den)})
    half = 1.959964 * float(np.sqrt(est.variance))
    return [round(est.value - half, 5), round(est.value + half, 5)]


def evaluate_strategies(
    scale: str = "tiny",
    seed: int = 7,
    k: int = 10,
    visits: int = 5,
    *,
    users: int | None = None,
    days: int | None = None,
    epochs: int = 10,
) -> dict[str, Any]:
    """``liveloop evaluate strategies``: exposure, CTR, CVR, GMV and ROI per strategy with 95% CIs, and
    each strategy against manual picks (the control) as the experiment engine reports an A/B test.

    ``users`` / ``days`` override the preset's world size; ``epochs`` trains SASRec (alone and inside
    the hybrid, which reuses the stand-alone ALS and SASRec fitted on the same data).
    """
    from liveloop.core.crypto import generate_key
    from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
    from liveloop.warehouse import Warehouse

    base = get_settings()
    with tempfile.TemporaryDirectory(prefix="liveloop-strategies-") as tmp:
        settings = replace(base, home=Path(tmp) / "home", secret_key=base.secret_key or generate_key())
        wh = Warehouse.open(settings)
        try:
            summary = simulate_into_warehouse(wh, scale=scale, seed=seed, users=users, days=days)
            data = from_warehouse(wh)
            oracle = Oracle.load(summary["truth_dir"])
            prices = wh.df(
                "SELECT product_id, CAST(price AS DOUBLE) AS price, CAST(cost AS DOUBLE) AS cost "
                "FROM products"
            ).set_index("product_id")
        finally:
            wh.close()
    train, _ = time_split(data, 0.2)
    day = int((train.ts.max() - data.ts.min()) // 86_400) + 1
    active = np.flatnonzero(np.bincount(train.user_idx, minlength=train.n_users) > 0)
    rng = np.random.default_rng(seed)
    # the engine's hashed assignment, four equal arms (the first, manual picks, is the control)
    shares = cumulative([1.0] * 4)
    arms = np.array([pick_arm(f"table2-{seed}", str(u), shares) for u in data.users[active]])
    units: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {
        "ctr": {},
        "gmv_per_user": {},
        "roi": {},
    }
    known = train.item_counts() > 0
    price = prices.reindex(data.items.astype(str))["price"].fillna(0).to_numpy()
    cost = prices.reindex(data.items.astype(str))["cost"].fillna(0).to_numpy()
    rows: list[dict[str, Any]] = []
    fitted: dict[str, Retriever] = {}
    for arm, (name, model) in enumerate(strategies(seed, epochs).items()):
        arm_users = active[arms == arm]
        if isinstance(model, HybridRanker):  # its final ALS and SASRec are the stand-alone ones
            model.fit(
                train,
                prefitted=[fitted["CF (ALS)"], ItemKNN().fit(train), fitted["deep sequential (SASRec)"]],
            )
        else:
            fitted[name] = model.fit(train)

        def truth(users: np.ndarray, model: Retriever = model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Top-k for ``users`` and the Oracle's true click and purchase probabilities of each slot."""
            s = np.array(model.score(users), dtype=np.float32)
            s[:, ~known] = -np.inf
            mask_seen(s, train.binary(), users)
            recs = top_k(s, k)[0]
            uid = np.repeat(data.users[users].astype(str), k)
            pid = data.items[recs.ravel()].astype(str)
            p_click = np.asarray(oracle.relevance(uid, pid, day=day)).reshape(recs.shape)
            p_buy = np.asarray(oracle.purchase_probability(uid, pid, day=day)).reshape(recs.shape)
            return recs, p_click, p_buy

        recs, p_click, p_buy = truth(arm_users)
        all_recs, all_click, all_buy = truth(active)
        all_margin = all_click * all_buy * (price[all_recs] - cost[all_recs])
        all_spend = all_recs.size * COST_PER_IMPRESSION
        clicks = rng.random((visits, *recs.shape)) < p_click
        buys = clicks & (rng.random((visits, *recs.shape)) < p_buy)
        imp_u = np.full(len(arm_users), float(visits * k))
        clk_u = clicks.sum(axis=(0, 2)).astype(float)
        buy_u = buys.sum(axis=(0, 2)).astype(float)
        gmv_u = (buys * price[recs]).sum(axis=(0, 2))
        margin_u = (buys * (price[recs] - cost[recs])).sum(axis=(0, 2))
        spend = imp_u * COST_PER_IMPRESSION
        rows.append(
            {
                "strategy": name,
                "users": len(arm_users),
                "exposure": int(imp_u.sum()),
                "ctr": round(float(clk_u.sum() / imp_u.sum()), 5),
                "ctr_ci95": _interval(clk_u, imp_u),
                "cvr": round(float(buy_u.sum() / max(clk_u.sum(), 1)), 5),
                "cvr_ci95": _interval(buy_u, clk_u),
                "gmv": round(float(gmv_u.sum()), 2),
                "gmv_per_user": round(float(gmv_u.mean()), 3),
                "gmv_per_user_ci95": _interval(gmv_u, None),
                "roi": round(float(margin_u.sum() / spend.sum()), 4),
                "roi_ci95": _interval(margin_u, spend),
                "expected_ctr": round(float(p_click.mean()), 5),
                "expected_purchases_per_1k_impressions": round(float((p_click * p_buy).mean() * 1000), 4),
                # the same strategy shown to every user, valued by the Oracle's true probabilities:
                # a paired comparison without the arms' sampling noise
                "all_users_expected_ctr": round(float(all_click.mean()), 5),
                "all_users_expected_roi": round(float(all_margin.sum()) / all_spend, 4),
            }
        )
        if isinstance(model, HybridRanker):
            rows[-1]["value_weight"] = model.value_weight_
        units["ctr"][name] = (clk_u, imp_u)
        units["gmv_per_user"][name] = (gmv_u, None)
        units["roi"][name] = (margin_u, spend)
    _against_control(rows, units)
    best = max(rows, key=lambda r: float(r["roi"]))["strategy"]
    best_expected = max(rows, key=lambda r: float(r["all_users_expected_roi"]))["strategy"]
    by_truth = sorted(rows, key=lambda r: -float(r["expected_ctr"]))
    return {
        "world": {
            "scale": scale,
            "seed": seed,
            "users": summary["users"],
            "products": summary["products"],
            "events": summary["events"],
        },
        "k": k,
        "visits": visits,
        "cost_per_impression": COST_PER_IMPRESSION,
        "note": "simulated A/B test on the market simulator (ground truth from its Oracle), not real data",
        "rows": rows,
        "best_roi": best,
        "best_expected_roi": best_expected,
        # the Oracle's true mean click probability of each arm's lists, best first: the ordering the
        # sampled CTRs estimate
        "expected_ctr_order": [r["strategy"] for r in by_truth],
    }


def _against_control(
    rows: list[dict[str, Any]], units: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]]
) -> None:
    """Each strategy's CTR, GMV per user and ROI against manual picks (the first arm): the engine's
    relative effect with its Fieller interval and Holm-adjusted p-value (fixed horizon: one look)."""
    found = []
    for metric, arms in units.items():
        est, _ = stats.estimates(arms)
        for row, e in zip(rows[1:], est[1:], strict=True):
            found.append((row, metric, stats.compare(est[0], e)))
    adjusted = stats.adjust([eff.p_value for _, _, eff in found])
    for (row, metric, eff), p in zip(found, adjusted, strict=True):
        row.setdefault("vs_manual", {})[metric] = {**eff.to_dict(), "p_adjusted": round(p, 6)}


def strategies_path(home: Path) -> Path:
    return home / "models" / "recommend" / "strategies.json"


def save_strategies(result: dict[str, Any], home: Path) -> Path:
    """Keep the latest Table 2 beside the models, for the dashboard."""
    import json

    path = strategies_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    return path


def load_strategies(home: Path) -> dict[str, Any] | None:
    import json

    path = strategies_path(home)
    return json.loads(path.read_text()) if path.is_file() else None
