"""The experiment engine on a real warehouse: assignment (sticky, layers, holdout), bad definitions,
exposures, results over the KPI registry (a known effect found, CUPED, SRM flagged, a guardrail stopping
an arm), power before launch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from liveloop.analytics import experiments as service
from liveloop.core.errors import Conflict, InsufficientData, ValidationFailed
from liveloop.experiments import ArmRouter, store
from liveloop.experiments.assignment import BUCKETS
from liveloop.warehouse import Warehouse

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _spec(**kw: Any) -> dict[str, Any]:
    return {"name": "test", "arms": ["control", "treatment"], "metrics": ["gmv"], **kw}


def test_assignment_is_sticky_balanced_and_layers_exclude_each_other(wh: Warehouse) -> None:
    a = service.create(wh, _spec(name="a", traffic=50))
    b = service.create(wh, _spec(name="b", traffic=50, target="campaign"))
    c = service.create(wh, _spec(name="c", layer="pricing", arms=["x", "y", "z"]))
    assert a.bucket_range == (0, BUCKETS // 2) and b.bucket_range == (BUCKETS // 2, BUCKETS)
    users = [f"u{i}" for i in range(6000)]
    pa = [a.place(u).arm for u in users]
    pb = [b.place(u).arm for u in users]
    assert pa == [store.get(wh, a.experiment_id).place(u).arm for u in users]  # sticky across reads
    in_a = {u for u, x in zip(users, pa, strict=True) if x}
    in_b = {u for u, x in zip(users, pb, strict=True) if x}
    assert not in_a & in_b and len(in_a | in_b) == len(users)  # one layer: every user in exactly one
    assert 0.46 < len(in_a) / len(users) < 0.54
    share = sum(x == "control" for x in pa) / len(in_a)
    assert 0.46 < share < 0.54
    pc = [c.place(u).arm for u in users]  # another layer: independent of the first
    assert all(pc) and {"x", "y", "z"} == set(pc)
    both = [x for x, y in zip(pa, pc, strict=True) if x == "control"]
    assert (
        0.28 < sum(y == "x" for y in [pc[i] for i, x in enumerate(pa) if x == "control"]) / len(both) < 0.39
    )


def test_holdout_and_bad_definitions_get_clear_errors(wh: Warehouse) -> None:
    store.set_holdout(wh, "default", 10)
    exp = service.create(wh, _spec())
    users = [f"u{i}" for i in range(5000)]
    reasons = [exp.place(u).reason for u in users]
    assert 0.08 < reasons.count("holdout") / len(users) < 0.12
    assert set(reasons) == {"holdout", "assigned"}
    with pytest.raises(Conflict) as e:
        store.set_holdout(wh, "default", 5)
    assert e.value.field == "holdout"
    cases = [
        (_spec(arms=["only"]), "arms"),
        (_spec(arms=[{"name": "a", "weight": 60}, {"name": "b", "weight": 30}]), "arms"),
        (_spec(arms=[{"name": "a", "weight": 50}, {"name": "b"}]), "arms[1].weight"),
        (_spec(metrics=["nope"]), "metrics"),
        (_spec(metrics=[]), "metrics"),
        (_spec(traffic=0), "traffic"),
        (
            _spec(target="recommend", arms=[{"name": "a", "config": {"strategy": "magic"}}, "b"]),
            "arms[0].config.strategy",
        ),
        (_spec(alpha=0.9), "alpha"),
        (_spec(colour="red"), "colour"),
        ({"arms": ["a", "b"]}, "name"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as err:
            service.create(wh, data)
        assert err.value.field == field, (data, err.value.detail)
    with pytest.raises(Conflict) as e:  # the layer is full: overlapping experiments are refused
        service.create(wh, _spec(name="second", traffic=20))
    assert e.value.field == "traffic" and "overlaps" in e.value.detail
    store.stop(wh, exp.experiment_id)
    assert service.create(wh, _spec(name="second", traffic=20)).bucket_range[0] == 1000


def _orders(wh: Warehouse, rows: list[tuple[str, str, datetime, float]]) -> None:
    with wh.transaction() as con:
        con.executemany(
            "INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES (?, ?, ?, 'paid', ?)", rows
        )


def _world(wh: Warehouse, effect: float, *, n: int = 3000, seed: int = 1) -> tuple[str, dict[str, str]]:
    """An experiment whose treatment multiplies the chance to buy by ``1 + effect``; each user also bought
    before (the pre-period CUPED uses), correlated with what they buy after."""
    exp = service.create(wh, _spec(pre_days=30, sequential=False, guardrails=["refund_rate"]))
    rng = np.random.default_rng(seed)
    exposures, orders, arms = [], [], {}
    for i in range(n):
        user = f"u{i}"
        # the arm drawn from the seeded generator (not the experiment's freshly salted hash), so that
        # the figures below are the same on every run
        arm = "treatment" if rng.random() < 0.5 else "control"
        arms[user] = arm
        at = T0 + timedelta(hours=i % 240)
        exposures.append((exp.experiment_id, user, arm, at))
        taste = rng.gamma(0.6, 60.0)
        if rng.random() < 0.5:
            orders.append((f"pre{i}", user, at - timedelta(days=5), round(taste * rng.uniform(0.5, 1.5), 2)))
        p = 0.3 * (1 + effect if arm == "treatment" else 1)
        if rng.random() < p:
            orders.append(
                (f"post{i}", user, at + timedelta(days=1), round(taste * rng.uniform(0.5, 1.5) + 5, 2))
            )
        orders.append((f"old{i}", user, at - timedelta(days=60), 999.0))  # before the pre-period: ignored
    store.log_exposures(wh, exposures)
    _orders(wh, orders)
    return exp.experiment_id, arms


def test_results_find_a_real_effect_with_cuped_and_none_in_an_a_a(wh: Warehouse) -> None:
    exp_id, arms = _world(wh, effect=0.5)
    res = service.results(wh, exp_id)
    gmv = res["metrics"][0]
    assert res["users"]["control"] + res["users"]["treatment"] == 3000 and not res["srm"]["mismatch"]
    # the estimate is the plain per-user mean, checked by hand
    post = dict(wh.sql("SELECT user_id, sum(amount) FROM orders WHERE order_id LIKE 'post%' GROUP BY 1"))
    control = [float(post.get(u, 0)) for u, a in arms.items() if a == "control"]
    assert gmv["arms"][0]["value"] == pytest.approx(np.mean(control), rel=1e-6)
    eff = gmv["effects"][0]
    assert eff["significant"] and eff["relative"] > 0.2 and eff["ci95"][0] > 0
    assert gmv["cuped"]["variance_reduction"] > 0.05  # the past purchases explain part of the spend
    assert res["guardrails"][0]["metric"] == "refund_rate" and res["guardrail_breaches"] == []


def test_a_a_has_no_effect_and_srm_is_flagged(wh: Warehouse) -> None:
    exp_id, _ = _world(wh, effect=0.0, seed=3)
    res = service.results(wh, exp_id)
    assert not res["metrics"][0]["effects"][0]["significant"]
    # drop half of one arm's exposures: the split no longer matches 50/50
    wh.sql(
        "DELETE FROM exposures WHERE experiment_id = ? AND arm = 'treatment' AND hash(user_id) % 2 = 0",
        [exp_id],
    )
    res = service.results(wh, exp_id)
    assert res["srm"]["mismatch"] and "sample-ratio mismatch" in res["warnings"][0]


def test_a_guardrail_stops_a_harmful_arm_and_serving_sends_its_users_to_control(wh: Warehouse) -> None:
    exp = service.create(wh, _spec(metrics=["gmv"], guardrails=["refund_rate"], pre_days=0))
    rows, orders = [], []
    for i in range(2000):
        user = f"u{i}"
        arm = exp.place(user).arm
        rows.append((exp.experiment_id, user, arm, T0))
        status = "refunded" if (arm == "treatment" and i % 3 == 0) or i % 20 == 0 else "paid"
        orders.append((f"o{i}", user, T0 + timedelta(hours=1), status, 50.0))
    store.log_exposures(wh, rows)
    with wh.transaction() as con:
        con.executemany(
            "INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES (?, ?, ?, ?, ?)", orders
        )
    res = service.results(wh, exp.experiment_id)
    assert res["guardrail_breaches"] == [{"arm": "treatment", "guardrail": "refund_rate"}]
    stopped = store.get(wh, exp.experiment_id)
    assert "treatment" in stopped.stopped_arms
    router = ArmRouter(wh)
    user = next(u for _, u, a, _ in rows if a == "treatment")
    served = router.arm("custom", user)
    assert served is not None and served["arm"] == "treatment" and served["served_arm"] == "control"
    audit = wh.sql("SELECT decision FROM audit_log WHERE action = 'experiments.stop_arm'")
    assert audit == [("treatment",)]


def test_exposures_are_first_only_and_results_need_some(wh: Warehouse) -> None:
    exp = service.create(wh, _spec())
    with pytest.raises(InsufficientData):
        service.results(wh, exp.experiment_id)
    user = next(f"u{i}" for i in range(100) if exp.place(f"u{i}").arm)
    first = store.assign(wh, exp.experiment_id, user)
    again = store.assign(wh, exp.experiment_id, user)
    assert first["arm"] == again["arm"] and first["config"] == {}
    assert wh.sql("SELECT count(*) FROM exposures")[0][0] == 1
    with pytest.raises(ValidationFailed):
        store.assign(wh, exp.experiment_id, "bad id!")
    router = ArmRouter(wh)
    for i in range(50):
        router.arm("custom", f"v{i}")
        router.arm("custom", f"v{i}")
    assert router.counters["exposures_pending"] == 50
    assert router.flush() == 50 and router.counters["exposures_logged"] == 50


def test_power_before_launch(wh: Warehouse) -> None:
    _world(wh, effect=0.0, n=400)
    p = service.power(wh, "gmv", users_per_day=1000, days=14, sequential=False, effect=0.05)
    assert p["baseline"]["users"] >= 30 and 0 < p["mde_relative"] < 1
    seq = service.power(wh, "gmv", users_per_day=1000, days=14, sequential=True)
    assert seq["mde_relative"] > p["mde_relative"]  # always-valid intervals cost power
    assert p["users_per_arm_needed"] > p["users_per_arm"]  # a 5% effect needs more than 7,000 per arm here
    with pytest.raises(ValidationFailed) as e:
        service.power(wh, "gmv", users_per_day=1000, days=0)
    assert e.value.field == "days"


def test_an_erasure_removes_the_users_exposures(wh: Warehouse, settings) -> None:
    from liveloop.core.crypto import load_cipher
    from liveloop.privacy import rights

    exp = service.create(wh, _spec())
    store.log_exposures(wh, [(exp.experiment_id, u, exp.place(u).arm or "", T0) for u in ("u1", "u2")])
    router = ArmRouter(wh)
    router.arm("custom", "u1")  # buffered, not yet written: forgotten too
    router.forget_user("u1")
    assert router.counters["exposures_pending"] == 0 and router.flush() == 0
    rights.erase_user(wh, "u1", settings=settings, cipher=load_cipher(settings), actor="t")
    assert wh.sql("SELECT user_id FROM exposures") == [("u2",)]
