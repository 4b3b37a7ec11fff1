"""Table 2 (``liveloop evaluate strategies``) on a tiny simulated world: structure, intervals, truth."""

from __future__ import annotations

import json

import pytest

from liveloop.recommend.strategies import evaluate_strategies, load_strategies, save_strategies

STRATEGIES = ["manual (popularity)", "CF (ALS)", "deep sequential (SASRec)", "hybrid (CF + deep, LambdaRank)"]


@pytest.fixture(scope="module")
def table() -> dict:
    return evaluate_strategies("tiny", seed=3, k=5, visits=4, users=120, days=5, epochs=1)


def test_table_has_every_strategy_and_metric(table: dict) -> None:
    assert [r["strategy"] for r in table["rows"]] == STRATEGIES
    assert table["world"]["users"] == 120 and table["k"] == 5 and table["visits"] == 4
    for r in table["rows"]:
        assert r["users"] > 0 and r["exposure"] == r["users"] * 5 * 4
        assert 0 <= r["ctr"] <= 1 and 0 <= r["cvr"] <= 1 and r["gmv"] >= 0
        assert 0 < r["expected_ctr"] < 1
        assert 0 < r["all_users_expected_ctr"] < 1 and r["all_users_expected_roi"] > 0
    assert table["best_roi"] in STRATEGIES and table["best_expected_roi"] in STRATEGIES
    assert table["rows"][-1]["value_weight"] >= 0  # the hybrid's chosen value weight is reported
    json.dumps(table)  # what the CLI prints with --json


def test_intervals_contain_the_point_estimates(table: dict) -> None:
    for r in table["rows"]:
        for metric, ci in (("ctr", "ctr_ci95"), ("cvr", "cvr_ci95"), ("roi", "roi_ci95")):
            lo, hi = r[ci]
            assert lo - 1e-4 <= r[metric] <= hi + 1e-4, (r["strategy"], metric, r[ci])
        lo, hi = r["gmv_per_user_ci95"]
        assert lo - 1e-3 <= r["gmv_per_user"] <= hi + 1e-3


def test_each_strategy_is_compared_with_manual_picks_as_an_ab_test(table: dict) -> None:
    from liveloop.experiments.assignment import cumulative, pick_arm

    assert "vs_manual" not in table["rows"][0]
    for r in table["rows"][1:]:
        for metric in ("ctr", "gmv_per_user", "roi"):
            eff = r["vs_manual"][metric]
            assert eff["p_adjusted"] >= eff["p_value"] and eff["sequential"] is False
        ctr = r["vs_manual"]["ctr"]
        assert ctr["relative"] == pytest.approx(r["ctr"] / table["rows"][0]["ctr"] - 1, abs=1e-3)
    # the arms are the engine's hashed assignment: the same users land in the same arm on any run
    shares = cumulative([1.0] * 4)
    arms = [pick_arm("table2-3", f"u{i}", shares) for i in range(4000)]
    assert all(0.22 < arms.count(a) / len(arms) < 0.28 for a in range(4))
    assert sum(r["users"] for r in table["rows"]) <= 120


def test_true_ctr_ordering_is_reported(table: dict) -> None:
    order = table["expected_ctr_order"]
    assert sorted(order) == sorted(STRATEGIES)
    truth = {r["strategy"]: r["expected_ctr"] for r in table["rows"]}
    assert [truth[s] for s in order] == sorted(truth.values(), reverse=True)


def test_saved_for_the_dashboard(table: dict, tmp_path) -> None:
    save_strategies(table, tmp_path)
    assert load_strategies(tmp_path) == json.loads(json.dumps(table, default=str))
    assert load_strategies(tmp_path / "nowhere") is None
