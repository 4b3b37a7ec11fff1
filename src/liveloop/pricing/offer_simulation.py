"""Offer policies compared in the simulated world behind a warehouse (never real data).

The segments are the published lifecycle stages of the warehouse's profiles; the rounds are the days after
the simulated history (:mod:`liveloop.datasets.simulator.offers`). Four policies meet the same rounds:

- **bandit**: :class:`~liveloop.pricing.offers.OfferBandit`, learning from each round's realised profit;
- **Oracle**: the best fixed offer per segment under the budget, chosen with the world's truth;
- **best single offer**: the best one offer for every segment under the budget (truth);
- **no coupon**.

Each is valued by the truth of its choices (expected profit of the offers it made, round by round); the
bandit's regret is the Oracle's total minus its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed
from liveloop.pricing.offers import OfferBandit, best_fixed_policy, guard_for
from liveloop.warehouse import Warehouse

#: The menu: no coupon, then these percentages off, each valid in live rooms only or anywhere.
PERCENTS = (5.0, 10.0, 20.0)
DEFAULT_ROUNDS = 60


def _segments(wh: Warehouse, oracle: Any) -> tuple[np.ndarray, list[str]]:
    rows = wh.sql("SELECT user_id, lifecycle FROM profiles WHERE lifecycle IS NOT NULL ORDER BY user_id")
    if not rows:
        raise ValidationFailed(
            "no profiles with a lifecycle stage: run `liveloop profiles build`", field="profiles"
        )
    names = sorted({r[1] for r in rows})
    segment = np.full(oracle.world.users.n, -1, dtype=np.int64)
    segment[oracle.user_indices([r[0] for r in rows])] = [names.index(r[1]) for r in rows]
    return segment, names


def compare_offer_policies(
    wh: Warehouse,
    *,
    rounds: int = DEFAULT_ROUNDS,
    budget_share: float | None = 0.5,
    percents: tuple[float, ...] = PERCENTS,
    objective: str = "profit",
    seed: int = 0,
    max_loss: float | None = None,
) -> dict[str, Any]:
    """Run the four policies over ``rounds`` days for ``objective`` (profit after coupons, or GMV paid);
    the budget is ``budget_share`` × what the unbudgeted Oracle would spend (``None``: no budget);
    ``max_loss`` is the bandit's guard against falling behind no coupon while it learns (default: the
    objective's, :data:`~liveloop.pricing.offers.DEFAULT_MAX_LOSS`; 1: none)."""
    from liveloop.datasets.simulator import Oracle
    from liveloop.datasets.simulator.offers import OBJECTIVES, Offer, offer_round

    if not 5 <= rounds <= 365:
        raise ValidationFailed("rounds must be between 5 and 365", field="rounds")
    if budget_share is not None and not 0 < budget_share <= 1:
        raise ValidationFailed("budget_share must be in (0, 1]", field="budget_share")
    if not percents or any(not 0 < p < 100 for p in percents):
        raise ValidationFailed("percents must lie strictly between 0 and 100", field="percents")
    if objective not in OBJECTIVES:
        raise ValidationFailed(f"objective must be one of {', '.join(OBJECTIVES)}", field="objective")
    oracle = Oracle.for_warehouse(wh)
    segment, names = _segments(wh, oracle)
    offers = [Offer(0.0), *(Offer(p, t) for p in percents for t in ("live", "any"))]
    start = oracle.world.config.days
    days = [
        offer_round(oracle.world, segment, len(names), offers, start + r, seed=seed) for r in range(rounds)
    ]
    truth = [d.expected(objective) for d in days]
    value = np.sum([t[0] for t in truth], axis=0)
    spend = np.sum([t[1] for t in truth], axis=0)
    idx = np.arange(len(names))
    free = best_fixed_policy(value, spend, None)
    free_spend = float(spend[idx, free].sum())
    if objective == "gmv" and budget_share is not None:  # GMV always grows with the coupon: cap it
        free_spend = float(spend.max(axis=1).sum())
    budget = None if budget_share is None or free_spend <= 0 else budget_share * free_spend
    fixed = {
        "oracle": best_fixed_policy(value, spend, budget),
        "best single offer": best_fixed_policy(value, spend, budget, per_segment=False),
        "no coupon": np.zeros(len(names), dtype=np.int64),
    }
    depth = tuple(o.percent / 100 for o in offers)
    bandit = OfferBandit(
        len(names),
        len(offers),
        budget=budget,
        rounds=rounds,
        seed=seed,
        depth=depth,
        max_loss=guard_for(objective, max_loss),
    )
    earned = spent = realised = 0.0
    oracle_so_far, regret_curve = 0.0, []
    for d, (v, _) in zip(days, truth, strict=True):
        choice = bandit.choose(d.views)
        got, paid = d.realised(choice, objective)
        bandit.update(choice, d.views, got, paid)
        earned += float(v[idx, choice].sum())
        oracle_so_far += float(v[idx, fixed["oracle"]].sum())
        spent += float(paid.sum())
        realised += float(got.sum())
        regret_curve.append(round(oracle_so_far - earned, 2))
    totals = {k: float(value[idx, c].sum()) for k, c in fixed.items()}
    spends = {k: float(spend[idx, c].sum()) for k, c in fixed.items()}
    best = bandit.best()
    return {
        "objective": objective,
        "rounds": rounds,
        "segments": names,
        "members": [int(m) for m in days[0].members],
        "offers": [o.name for o in offers],
        "budget": None if budget is None else round(budget, 2),
        "policies": {
            "bandit": {"value": round(earned, 2), "realised": round(realised, 2), "spend": round(spent, 2)},
            **{k: {"value": round(totals[k], 2), "spend": round(spends[k], 2)} for k in fixed},
        },
        "share_of_oracle": {
            k: round(v / totals["oracle"], 4) if totals["oracle"] else None
            for k, v in {"bandit": earned, **totals}.items()
        },
        "regret": round(totals["oracle"] - earned, 2),
        "regret_curve": regret_curve,
        "oracle_offers": {n: offers[k].name for n, k in zip(names, fixed["oracle"], strict=True)},
        "bandit_offers": {n: offers[k].name for n, k in zip(names, best, strict=True)},
        "single_offer": offers[int(fixed["best single offer"][0])].name,
    }
