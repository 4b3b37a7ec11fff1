"""IPW / SNIPW / DR on synthetic logs with known answers, and on the real Open Bandit data."""

from __future__ import annotations

import numpy as np
import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.recommend.ope import dr, evaluate_obd, ipw, snipw


def _log(n: int = 200_000, n_actions: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    ctr = np.array([0.1, 0.2, 0.3, 0.6])[:n_actions]
    behaviour = np.array([0.4, 0.3, 0.2, 0.1])[:n_actions]
    a = rng.choice(n_actions, n, p=behaviour)
    r = (rng.random(n) < ctr[a]).astype(float)
    return ctr, behaviour, a, r


def test_ipw_and_snipw_recover_the_target_value() -> None:
    ctr, behaviour, a, r = _log()
    target = np.array([0.0, 0.0, 0.0, 1.0])  # always the best action
    truth = float(target @ ctr)  # 0.6
    assert ipw(r, behaviour[a], target[a]) == pytest.approx(truth, abs=0.02)
    assert snipw(r, behaviour[a], target[a]) == pytest.approx(truth, abs=0.02)


def test_on_policy_snipw_equals_the_logged_mean_exactly() -> None:
    _, behaviour, a, r = _log(n=5000)
    assert snipw(r, behaviour[a], behaviour[a]) == pytest.approx(r.mean(), abs=1e-12)
    assert ipw(r, behaviour[a], behaviour[a]) == pytest.approx(r.mean(), abs=1e-12)


def test_dr_with_a_perfect_reward_model_is_exact_in_expectation() -> None:
    ctr, behaviour, a, r = _log()
    target = np.array([0.25, 0.25, 0.25, 0.25])
    value = dr(r, behaviour[a], target[a], q_logged=ctr[a], q_policy=np.full(len(a), target @ ctr))
    assert value == pytest.approx(float(target @ ctr), abs=0.01)
    # with a zero reward model DR reduces to IPW (obp's formula)
    zero = dr(r, behaviour[a], target[a], q_logged=np.zeros(len(a)), q_policy=np.zeros(len(a)))
    assert zero == pytest.approx(ipw(r, behaviour[a], target[a]))


def test_non_positive_propensity_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        ipw(np.ones(2), np.array([0.5, 0.0]), np.ones(2))


def test_open_bandit_estimates(data_home) -> None:
    out = evaluate_obd("men", n_boot=50)
    assert out["rows"] == 5000
    assert out["logged_random_ctr"] == pytest.approx(0.0052, abs=1e-4)  # second half of the random log
    assert out["logged_bts_ctr"] == pytest.approx(0.0069, abs=1e-4)  # SOURCE.md: 69 clicks in 10,000
    for name in ("ipw", "snipw", "dr"):
        lo, hi = out[name]["ci95"]
        assert 0 <= out[name]["ctr"] < 0.05 and lo <= out[name]["ctr"] <= hi
