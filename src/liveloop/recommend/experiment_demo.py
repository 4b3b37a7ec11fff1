"""The demo's recommendation-strategy experiment: the served recommender (model list) against the popular
list, assigned by the experiment engine, each user's responses drawn from the simulator's ground truth.

Every active user of the simulated world asks the running service for a home list once; the service
places the user in an arm (logging the first exposure) and serves that arm's strategy. Which items the
user clicks and buys is drawn from the Oracle's true probabilities for the list shown (clicks and paid
orders written to the warehouse just after the exposure), so the experiment's result measures the
strategies, not a story written for them.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import repeat
from typing import Any

import numpy as np

from liveloop.core.ids import stable_id
from liveloop.experiments import store
from liveloop.experiments.store import ExperimentSpec
from liveloop.recommend.service import EXPERIMENT_TARGET, RecommendService
from liveloop.warehouse import Warehouse

SPEC = {
    "name": "首页推荐：模型 vs 热门 (home list: model vs popular)",
    "target": EXPERIMENT_TARGET,
    "arms": [
        {"name": "popular", "config": {"strategy": "popular"}},
        {"name": "model", "config": {"strategy": "model"}},
    ],
    "metrics": ["gmv", "orders", "buyers"],
}
K = 10
VISITS = 6


def run(wh: Warehouse, service: RecommendService, *, seed: int = 7, max_users: int = 3000) -> dict[str, Any]:
    """Create the experiment, serve every active user ``VISITS`` times, write their simulated responses;
    the experiment stays running (the dashboard shows its results)."""
    from liveloop.datasets.simulator import Oracle

    oracle = Oracle.for_warehouse(wh)
    first, last = wh.sql("SELECT min(ts), max(ts) FROM events")[0]
    # the experiment runs in the simulated world's time, the hour after its last event
    now = last + timedelta(hours=1)
    # CUPED's pre-period: the whole simulated history before the exposure
    pre_days = min(365, max(1, (now - first).days + 1))
    exp = store.create(wh, ExperimentSpec.from_dict({**SPEC, "pre_days": pre_days}), actor="demo")
    users = [r[0] for r in wh.sql("SELECT DISTINCT user_id FROM events ORDER BY 1 LIMIT ?", [max_users])]
    prices = dict(wh.sql("SELECT product_id, CAST(price AS DOUBLE) FROM products"))
    day = max(0, (last - first).days)
    rng = np.random.default_rng(seed)
    events: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    served = {"popular": 0, "model": 0}
    for visit in range(VISITS):
        for n, user in enumerate(users):
            at = now + timedelta(seconds=1 + visit * 600 + n % 300)
            service.arms.clock = repeat(at).__next__
            out = service.recommend(user, K, explore=False, actor="demo")
            pids = [i["product_id"] for i in out["items"]]
            if not pids or "experiment" not in out:
                continue
            served[out["experiment"]["arm"]] += 1
            p_click = np.asarray(oracle.relevance([user] * len(pids), pids, day=day), dtype=float)
            p_buy = np.asarray(oracle.purchase_probability([user] * len(pids), pids, day=day), dtype=float)
            for pos in np.flatnonzero(rng.random(len(pids)) < p_click):
                pid = pids[pos]
                ts = at + timedelta(seconds=int(5 + pos))
                key = (exp.experiment_id, user, visit, pid)
                events.append((stable_id("evt", *key), ts, user, "click", pid, "demo_experiment"))
                if rng.random() < p_buy[pos]:
                    order_id = stable_id("ord", *key)
                    price = round(prices.get(pid, 0.0), 2)
                    orders.append((order_id, user, ts + timedelta(seconds=30), price))
                    items.append((order_id, 1, pid, 1, price, price))
    service.flush_audit()  # the exposures
    with wh.transaction() as con:
        con.executemany(
            "INSERT INTO events (event_id, ts, user_id, type, product_id, source) VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )
        con.executemany(
            "INSERT INTO orders (order_id, user_id, ts, status, amount, source) "
            "VALUES (?, ?, ?, 'paid', ?, 'demo')",
            orders,
        )
        con.executemany(
            "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, amount) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            items,
        )
    return {
        "experiment_id": exp.experiment_id,
        "users": len(users),
        "lists_served": served,
        "clicks": len(events),
        "orders": len(orders),
    }
