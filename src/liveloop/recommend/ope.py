"""Off-policy evaluation on logged bandit feedback: IPW, SNIPW and DR (the formulas of Open Bandit Pipeline).

With logged rows (context x_i, action a_i, reward r_i, behaviour propensity p_i), an evaluation
policy's action probabilities pi_e(a | x_i) and a reward model q(x, a):

    IPW   = mean(w_i r_i),                       w_i = pi_e(a_i | x_i) / p_i
    SNIPW = sum(w_i r_i) / sum(w_i)
    DR    = mean(sum_a pi_e(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import ValidationFailed
from liveloop.datasets.files import data_file


def _weights(action_prob: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    if np.any(propensity <= 0):
        raise ValidationFailed("behaviour propensities must be positive", field="propensity")
    return action_prob / propensity


def ipw(reward: np.ndarray, propensity: np.ndarray, action_prob: np.ndarray) -> float:
    """Inverse propensity weighting; ``action_prob`` is pi_e of the logged action."""
    return float(np.mean(_weights(action_prob, propensity) * reward))


def snipw(reward: np.ndarray, propensity: np.ndarray, action_prob: np.ndarray) -> float:
    """Self-normalised IPW."""
    w = _weights(action_prob, propensity)
    return float(np.sum(w * reward) / np.sum(w)) if np.sum(w) > 0 else 0.0


def dr(
    reward: np.ndarray,
    propensity: np.ndarray,
    action_prob: np.ndarray,
    q_logged: np.ndarray,
    q_policy: np.ndarray,
) -> float:
    """Doubly robust: ``q_logged`` = q(x_i, a_i); ``q_policy`` = sum_a pi_e(a | x_i) q(x_i, a)."""
    w = _weights(action_prob, propensity)
    return float(np.mean(q_policy + w * (reward - q_logged)))


def bootstrap_ci(
    fn: Any, arrays: list[np.ndarray], n_boot: int = 200, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of an estimator over resampled rows."""
    rng = np.random.default_rng(seed)
    n = len(arrays[0])
    stats = [fn(*(a[idx] for a in arrays)) for idx in (rng.integers(0, n, n) for _ in range(n_boot))]
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# -- Open Bandit Dataset ----------------------------------------------------------------------


def load_obd(policy: str = "random", campaign: str = "all") -> pd.DataFrame:
    """One logged (policy, campaign) slice of the Open Bandit Dataset (10,000 rows)."""
    if policy not in ("random", "bts") or campaign not in ("all", "men", "women"):
        raise ValidationFailed("policy is random|bts and campaign all|men|women", field="policy")
    path = data_file("open_bandit_dataset_small", f"{policy}/{campaign}/{campaign}.csv.gz")
    return pd.read_csv(path, index_col=0)


class CTRPolicy:
    """liveloop's item policy for a slot: uniform over the ``top_m`` items by smoothed CTR.

    CTR is estimated per (item, position) with a Beta prior centred on the overall CTR;
    the same estimates serve as the reward model of DR.
    """

    def __init__(self, top_m: int = 10, prior_strength: float = 200.0):
        self.top_m = top_m
        self.prior_strength = prior_strength

    def fit(self, log: pd.DataFrame, n_items: int) -> CTRPolicy:
        base = float(log["click"].mean())
        a0 = base * self.prior_strength
        b0 = (1 - base) * self.prior_strength
        self.q_ = np.zeros((n_items, 3))
        for pos in (1, 2, 3):
            part = log[log["position"] == pos]
            clicks = np.bincount(part["item_id"], weights=part["click"], minlength=n_items)
            shows = np.bincount(part["item_id"], minlength=n_items)
            self.q_[:, pos - 1] = (clicks + a0) / (shows + a0 + b0)
        ranking = np.argsort(-self.q_.mean(axis=1), kind="stable")
        self.pi_ = np.zeros(n_items)
        self.pi_[ranking[: self.top_m]] = 1.0 / self.top_m
        return self


def evaluate_obd(campaign: str = "all", top_m: int = 10, n_boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """Estimate liveloop's CTR from the logged random policy (second half of the log), beside the
    on-policy CTR of the logged random and Bernoulli Thompson sampling policies."""
    rand = load_obd("random", campaign)
    bts = load_obd("bts", campaign)
    n_items = int(max(rand["item_id"].max(), bts["item_id"].max())) + 1
    rand = rand.sort_values("timestamp", kind="stable").reset_index(drop=True)
    half = len(rand) // 2
    train, test = rand.iloc[:half], rand.iloc[half:]
    policy = CTRPolicy(top_m=top_m).fit(train, n_items)
    r = test["click"].to_numpy(float)
    p = test["propensity_score"].to_numpy(float)
    a = test["item_id"].to_numpy()
    pos = test["position"].to_numpy() - 1
    pi_logged = policy.pi_[a]
    q_logged = policy.q_[a, pos]
    q_policy = (policy.pi_[:, None] * policy.q_).sum(axis=0)[pos]
    estimates: dict[str, tuple[Any, list[np.ndarray]]] = {
        "ipw": (ipw, [r, p, pi_logged]),
        "snipw": (snipw, [r, p, pi_logged]),
        "dr": (dr, [r, p, pi_logged, q_logged, q_policy]),
    }
    out: dict[str, Any] = {
        "campaign": campaign,
        "policy": f"top-{top_m} items by smoothed CTR",
        "rows": len(test),
    }
    for name, (fn, arrays) in estimates.items():
        lo, hi = bootstrap_ci(fn, arrays, n_boot=n_boot, seed=seed)
        out[name] = {"ctr": round(fn(*arrays), 5), "ci95": [round(lo, 5), round(hi, 5)]}
    out["logged_random_ctr"] = round(float(test["click"].mean()), 5)
    out["logged_bts_ctr"] = round(float(bts["click"].mean()), 5)
    out["relative_to_random"] = round(out["dr"]["ctr"] / max(out["logged_random_ctr"], 1e-9), 3)
    out["relative_to_bts"] = round(out["dr"]["ctr"] / max(out["logged_bts_ctr"], 1e-9), 3)
    return out
