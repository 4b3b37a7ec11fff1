"""What a segment-rule coupon policy is worth, estimated from a randomised coupon test.

A policy here is lawful: a coupon or none per *published* segment (acquisition channel, items in the cart —
never spending or willingness to pay). It is learnt on one half of the randomised customers (a coupon where
the segment's coupon arm out-earned its control arm) and valued on the other half by inverse propensity
weighting with the test's known assignment share (Horvitz–Thompson, and its self-normalised form); the
halves then swap (cross-fitting), so no customer both shapes and values the policy. Beside it, in the same
run: coupons for everyone, for no one, and the best single segment rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import ValidationFailed

ARTEA = "artea_coupon_experiment"
ARTEA_FILE = "artea-a_b-experiment.csv"
CHANNELS = {1: "google", 2: "facebook", 3: "instagram", 4: "referral", 5: "other"}
#: The published segment rules a policy may use on the Artea customers.
ARTEA_RULES = {
    "channel": lambda d: d["channel_acq"].map(CHANNELS).fillna("other"),
    "cart": lambda d: np.where(d["shopping_cart"] == 1, "cart", "no cart"),
    "new": lambda d: np.where(d["num_past_purch"] == 0, "first purchase ahead", "returning"),
}
MIN_PER_ARM = 20  # fewer customers in an arm of a segment: no coupon (too little to tell)


def ipw_value(y: np.ndarray, treated: np.ndarray, action: np.ndarray, p_treat: float) -> tuple[float, float]:
    """(IPW, self-normalised IPW) mean outcome of giving ``action`` (0/1 per customer) in a test that
    treated each customer with probability ``p_treat``."""
    match = treated == action
    w = np.where(match, np.where(action == 1, 1 / p_treat, 1 / (1 - p_treat)), 0.0)
    return float(np.mean(w * y)), float(np.sum(w * y) / np.sum(w))


def learn_policy(segment: np.ndarray, treated: np.ndarray, y: np.ndarray) -> dict[str, int]:
    """A coupon (1) for each segment whose coupon arm's mean outcome beat its control arm's."""
    frame = pd.DataFrame({"s": segment, "t": treated, "y": y})
    means = frame.groupby(["s", "t"])["y"].agg(["mean", "count"]).unstack("t")
    policy = {}
    for s, row in means.iterrows():
        enough = row[("count", 0)] >= MIN_PER_ARM and row[("count", 1)] >= MIN_PER_ARM
        policy[str(s)] = int(enough and row[("mean", 1)] > row[("mean", 0)])
    return policy


def cross_fitted_value(
    data: pd.DataFrame, rules: tuple[str, ...], outcome: str, *, seed: int = 0, n_boot: int = 500
) -> dict[str, Any]:
    """The policy of ``rules`` learnt on one half and valued on the other (both ways), with a bootstrap
    95% interval, beside coupons for all and for none on the same customers."""
    unknown = [r for r in rules if r not in ARTEA_RULES]
    if unknown or not rules:
        raise ValidationFailed(f"segment rules must come from {', '.join(ARTEA_RULES)}", field="rules")
    segment = np.array(
        [" · ".join(parts) for parts in zip(*(np.asarray(ARTEA_RULES[r](data)) for r in rules), strict=True)]
    )
    treated = data["test_coupon"].to_numpy(dtype=int)
    y = data[outcome].to_numpy(dtype=float)
    p_treat = float(treated.mean())
    fold = np.random.default_rng([seed, 13]).permutation(len(data)) % 2
    action = np.zeros(len(data), dtype=int)
    policies = []
    for f in (0, 1):
        learn, value = fold != f, fold == f
        policy = learn_policy(segment[learn], treated[learn], y[learn])
        policies.append(policy)
        action[value] = [policy.get(s, 0) for s in segment[value]]
    rng = np.random.default_rng([seed, 14])
    draws = (rng.integers(0, len(y), len(y)) for _ in range(n_boot))
    boot = [ipw_value(y[i], treated[i], action[i], p_treat)[0] for i in draws]
    ipw, snipw = ipw_value(y, treated, action, p_treat)
    return {
        "rules": list(rules),
        "outcome": outcome,
        "value_ipw": round(ipw, 4),
        "value_snipw": round(snipw, 4),
        "ci95": [round(float(np.quantile(boot, q)), 4) for q in (0.025, 0.975)],
        "coupon_share": round(float(action.mean()), 4),
        "policies": policies,
        "segments": len(set(segment)),
    }


def artea_policy_value(*, outcome: str = "revenue_after", seed: int = 0, n_boot: int = 500) -> dict[str, Any]:
    """Segment-rule coupon policies on the Artea randomised coupon test, each valued on held-out halves,
    beside coupons for everyone and for no one (their values from the same data)."""
    from liveloop.datasets.loader import load

    if outcome not in ("revenue_after", "trans_after"):
        raise ValidationFailed("outcome must be revenue_after or trans_after", field="outcome")
    data = load(ARTEA)[ARTEA_FILE]
    treated = data["test_coupon"].to_numpy(dtype=int)
    y = data[outcome].to_numpy(dtype=float)
    p_treat = float(treated.mean())
    baselines = {
        name: round(ipw_value(y, treated, np.full(len(y), a), p_treat)[0], 4)
        for name, a in (("coupon for everyone", 1), ("no coupon", 0))
    }
    candidates = [("channel",), ("cart",), ("new",), ("channel", "cart")]
    rows = [cross_fitted_value(data, rules, outcome, seed=seed, n_boot=n_boot) for rules in candidates]
    return {
        "dataset": ARTEA,
        "customers": len(data),
        "coupon_share_in_test": round(p_treat, 4),
        "outcome": outcome,
        "baselines": baselines,
        "policies": rows,
        "caveat": "teaching-case data of a disguised retailer (provenance unverified): see its SOURCE.md",
    }
