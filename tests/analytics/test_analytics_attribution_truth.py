"""Attribution checked against the simulator's Oracle, which knows each message channel's true incremental
orders (benchmarks/bench_attribution.py: campaigns on app push, SMS, e-mail and social through the engine
with random holdouts, answered by the simulated users, scored against the sum of the Oracle's uplift).

What the benchmark found on its four worlds (small seeds 1-3, medium seed 4) and this test holds on
another (small seed 5), with margins taken from those four:

- every model credits the message channels with the buys that answered their messages, nearly all of
  which would have happened unsent: 60-84 orders per 1,000 messages where the truth is within ±0.7, an
  absolute error 21-38 times that of crediting nothing (which is off by 19-27 orders);
- the data-driven model (Markov) is not closer to the truth than last touch: its absolute error is 17-24%
  larger (it also credits the messages for organic orders that followed them);
- credit follows volume, the truth follows the hour sent: every model credits app push (daytime blasts,
  the most messages) most, the Oracle ranks it last;
- the campaigns' random holdouts measure the truth within their standard error, and closer than any model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bench_attribution import check_world

from liveloop.analytics import attribution
from liveloop.datasets.simulator.config import MESSAGE_CHANNELS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checked() -> dict[str, Any]:
    return check_world("small", 5)


def test_attribution_sees_each_answered_message(checked: dict[str, Any]) -> None:
    """Attribution sees the messages: most buys that answered one have it as their last touch (the others
    browsed between the message and the buy; the four worlds: 65-96%)."""
    last = checked["models"]["last"]["credited"]
    for channel in MESSAGE_CHANNELS:
        answered = checked["answered_buys_of_sent"][channel]
        assert answered > 50
        assert 0.5 * answered <= last[channel] <= 1.1 * answered, channel


def test_every_model_credits_far_more_than_the_true_incremental_orders(checked: dict[str, Any]) -> None:
    truth = checked["truth"]
    nothing = checked["models"]["nothing"]["abs_error"]
    assert nothing == pytest.approx(sum(abs(v) for v in truth.values()), abs=0.05)
    assert abs(checked["truth_per_1000_sent"]) < 5  # the four worlds: within ±0.7
    for model in attribution.MODELS:
        m = checked["models"][model]
        assert m["abs_error"] > 8 * nothing, model  # the four worlds: 21-38 times
        assert m["per_1000_sent"] > 30, model  # the four worlds: 60-84


def test_markov_is_not_closer_to_the_truth_than_last_touch(checked: dict[str, Any]) -> None:
    """The issue's hope (data-driven closer than last touch) does not hold on the simulator: if it ever
    does, this test should be rewritten with the new figures (docs/measurement.md)."""
    markov, last = checked["models"]["markov"]["abs_error"], checked["models"]["last"]["abs_error"]
    assert markov > 1.05 * last  # the four worlds: 1.17-1.24


def test_credit_follows_volume_not_the_truth(checked: dict[str, Any]) -> None:
    truth = checked["truth"]
    assert min(truth, key=lambda c: truth[c]) == "app_push"  # daytime sends do more harm than good
    assert checked["sent"]["app_push"] == max(checked["sent"].values())
    for model in attribution.MODELS:
        credited = checked["models"][model]["credited"]
        assert max(credited, key=lambda c: credited[c]) == "app_push", model
        assert checked["models"][model]["rank"] < 0, model  # the four worlds: -0.2 to -0.8


def test_the_random_holdouts_measure_the_truth(checked: dict[str, Any]) -> None:
    est = checked["holdout_estimate"]
    for channel in MESSAGE_CHANNELS:
        gap = abs(est["credited"][channel] - checked["truth"][channel])
        assert gap < 3.5 * est["se"][channel], channel  # the four worlds: at most 2.3 s.e.
    best = min(checked["models"][m]["abs_error"] for m in attribution.MODELS)
    assert est["abs_error"] < best / 2  # the four worlds: 0.18-0.39 of the best model's
