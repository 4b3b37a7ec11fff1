"""Table 2 on real traffic: an experiment on ``recommend`` reported with the reference study's columns.

Per exposed user, from the first exposure on: the recommended items the service served them (its audit
rows), their product clicks, their paid orders, GMV and margin (price − cost of goods). Per arm:
exposure (items shown), CTR = clicks / items, CVR = orders / clicks, GMV per user, ROI = margin /
traffic cost (``cost_per_impression`` per item shown, ¥0.05 as in the simulated Table 2) — each with
its delta-method interval, and against the control with a Fieller interval and a Holm-adjusted p.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed
from liveloop.experiments import stats
from liveloop.experiments.store import Experiment
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

#: Traffic cost per recommended item shown (CNY), the simulated Table 2's figure.
COST_PER_IMPRESSION = 0.05
_PAID = paid("o")
COLUMNS = ("exposure", "ctr", "cvr", "gmv_per_user", "roi")


def _units(wh: Warehouse, exp: Experiment) -> dict[str, np.ndarray]:
    rows = wh.sql(
        f"""
        WITH xp AS (SELECT user_id, any_value(arm) AS arm, min(ts) AS t0 FROM exposures
                    WHERE experiment_id = ? GROUP BY 1),
        served AS (
            SELECT a.subject AS user_id, sum(len(string_split(a.decision, ','))) AS items
            FROM audit_log a JOIN xp ON xp.user_id = a.subject
            WHERE a.action = 'recommend' AND a.ts >= xp.t0 AND coalesce(a.decision, '') <> '' GROUP BY 1),
        clicks AS (
            SELECT e.user_id, count(*) AS clicks FROM events e JOIN xp USING (user_id)
            WHERE e.type = 'click' AND e.product_id IS NOT NULL AND e.ts >= xp.t0 GROUP BY 1),
        bought AS (
            SELECT o.user_id, count(DISTINCT o.order_id) AS orders, sum(i.amount) AS gmv,
                sum(i.amount - coalesce(p.cost, 0) * i.quantity) AS margin
            FROM orders o JOIN order_items i USING (order_id) LEFT JOIN products p USING (product_id)
            JOIN xp USING (user_id) WHERE {_PAID} AND o.ts >= xp.t0 GROUP BY 1)
        SELECT xp.arm, coalesce(s.items, 0), coalesce(c.clicks, 0), coalesce(b.orders, 0),
            CAST(coalesce(b.gmv, 0) AS DOUBLE), CAST(coalesce(b.margin, 0) AS DOUBLE)
        FROM xp LEFT JOIN served s USING (user_id) LEFT JOIN clicks c USING (user_id)
        LEFT JOIN bought b USING (user_id) ORDER BY xp.user_id
        """,
        [exp.experiment_id],
    )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    names = ("arm", "items", "clicks", "orders", "gmv", "margin")
    out = {n: np.asarray(c, dtype=object if n == "arm" else float) for n, c in zip(names, cols, strict=True)}
    return out


def strategy_table(
    wh: Warehouse, exp: Experiment, *, cost_per_impression: float = COST_PER_IMPRESSION
) -> dict[str, Any]:
    """The experiment's arms with Table 2's columns (see the module docstring)."""
    if exp.target != "recommend":
        raise ValidationFailed("Table 2 reports experiments on recommend", field="experiment_id")
    u = _units(wh, exp)
    names = [a.name for a in exp.arms]
    masks = {a: u["arm"] == a for a in names}
    spend = u["items"] * cost_per_impression
    metrics: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {
        "ctr": {a: (u["clicks"][m], u["items"][m]) for a, m in masks.items()},
        "cvr": {a: (u["orders"][m], u["clicks"][m]) for a, m in masks.items()},
        "gmv_per_user": {a: (u["gmv"][m], None) for a, m in masks.items()},
        "roi": {a: (u["margin"][m], spend[m]) for a, m in masks.items()},
    }
    rows: list[dict[str, Any]] = [
        {
            "arm": a,
            "users": int(m.sum()),
            "exposure": int(u["items"][m].sum()),
            "gmv": round(float(u["gmv"][m].sum()), 2),
        }
        for a, m in masks.items()
    ]
    found = []
    for key, arms in metrics.items():
        est, _ = stats.estimates(arms)
        for row, e in zip(rows, est, strict=True):
            half = 1.959964 * float(np.sqrt(e.variance)) if np.isfinite(e.variance) else float("nan")
            row[key] = _round(e.value)
            row[f"{key}_ci95"] = [_round(e.value - half), _round(e.value + half)]
        for row, e in zip(rows[1:], est[1:], strict=True):
            found.append((row, key, stats.compare(est[0], e)))
    adjusted = stats.adjust([eff.p_value for _, _, eff in found])
    for (row, key, eff), p in zip(found, adjusted, strict=True):
        row.setdefault("vs_control", {})[key] = {**eff.to_dict(), "p_adjusted": round(p, 6)}
    return {"columns": list(COLUMNS), "cost_per_impression": cost_per_impression, "rows": rows}


def _round(x: float) -> float | None:
    return round(float(x), 5) if np.isfinite(x) else None
