"""The experiment faces: the API on a real server (create, assign, results, stop; problem+json naming the
field), and the CLI on a fresh home (one-line errors, the results table, power)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.experiments import store
from liveloop.warehouse import Warehouse


@pytest.mark.slow
def test_an_experiment_through_the_api(server) -> None:
    marketer, analyst, ingest = server.client("marketer"), server.client("analyst"), server.client("ingest")
    bad = marketer.post("/v1/experiments", json={"name": "x", "arms": ["only"], "layer": "api_test"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "arms"
    bad = marketer.post(
        "/v1/experiments",
        json={
            "name": "x",
            "arms": [{"name": "a", "weight": 70}, {"name": "b", "weight": 20}],
            "layer": "api_test",
        },
    )
    assert bad.status_code == 422 and "not 100%" in bad.json()["detail"]
    assert analyst.post("/v1/experiments", json={"name": "x", "arms": ["a", "b"]}).status_code == 403
    made = marketer.post(
        "/v1/experiments",
        json={
            "name": "价格展示",
            "arms": ["control", "treatment"],
            "layer": "api_test",
            "metrics": ["gmv", "orders"],
        },
    )
    assert made.status_code == 201, made.text
    exp = made.json()
    assert exp["control"] == "control" and exp["sequential"] is True
    none_yet = analyst.get(f"/v1/experiments/{exp['experiment_id']}/results")
    assert none_yet.status_code == 409 and none_yet.json()["field"] == "experiment_id"
    arms = {}
    for i in range(40):
        r = ingest.post(f"/v1/experiments/{exp['experiment_id']}/assign", json={"user_id": f"api_u{i}"})
        assert r.status_code == 200, r.text
        arms[f"api_u{i}"] = r.json()["arm"]
    assert set(arms.values()) == {"control", "treatment"}
    again = ingest.post(f"/v1/experiments/{exp['experiment_id']}/assign", json={"user_id": "api_u0"}).json()
    assert again["arm"] == arms["api_u0"]
    bad_user = ingest.post(f"/v1/experiments/{exp['experiment_id']}/assign", json={"user_id": "no spaces"})
    assert bad_user.status_code == 422 and bad_user.json()["field"] == "user_id"
    res = analyst.get(f"/v1/experiments/{exp['experiment_id']}/results", params={"history": "true"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["users"] == {a: sum(v == a for v in arms.values()) for a in ("control", "treatment")}
    assert [m["metric"] for m in body["metrics"]] == ["gmv", "orders"] and "history" in body
    assert analyst.get("/v1/experiments/layers").json()[0]["layer"] == "api_test"
    stopped = marketer.post(f"/v1/experiments/{exp['experiment_id']}/stop").json()
    assert stopped["status"] == "stopped"
    after = ingest.post(f"/v1/experiments/{exp['experiment_id']}/assign", json={"user_id": "api_u1"}).json()
    assert after["arm"] is None and after["reason"] == "stopped"
    assert marketer.get("/v1/experiments/exp_nope").status_code == 404


def test_experiment_commands(cli, settings: Settings, tmp_path: Path) -> None:
    code, out, err = cli("experiments", "create", "首页推荐", "--arm", "a=60", "--arm", "b=30")
    assert code != 0 and err.count("\n") == 1 and "not 100%" in err
    code, out, err = cli("experiments", "create", "x", "--arm", "a", "--arm", "b", "--metric", "shoe_size")
    assert code != 0 and "unknown metric 'shoe_size'" in err
    code, out, err = cli("experiments", "create", "首页推荐", "--arm", "a", "--arm", "b", "--json")
    assert code == 0, err
    exp_id = json.loads(out)["experiment_id"]
    code, out, err = cli("experiments", "results", exp_id)
    assert code != 0 and "no exposures yet" in err and "Traceback" not in err
    wh = Warehouse.open(settings)
    try:
        exp = store.get(wh, exp_id)
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        users = [f"u{i}" for i in range(200)]
        store.log_exposures(wh, [(exp_id, u, exp.place(u).arm or "", t0) for u in users])
        with wh.transaction() as con:
            con.executemany(
                "INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES (?, ?, ?, 'paid', ?)",
                [
                    (f"o{i}", u, t0 + timedelta(days=1), 10.0 + i % 7)
                    for i, u in enumerate(users)
                    if i % 3 == 0
                ],
            )
    finally:
        wh.close()
    code, out, err = cli("experiments", "results", exp_id)
    assert code == 0, err
    assert "gmv" in out and "95% interval" in out and "sequential" in out
    code, out, err = cli(
        "experiments", "power", "gmv", "--users-per-day", "500", "--days", "14", "--effect", "0.1"
    )
    assert code == 0, err
    assert "users per arm" in out and "detect a relative effect" in out
    code, out, err = cli("experiments", "list")
    assert code == 0 and exp_id in out
    code, out, err = cli("experiments", "layer", "default", "--holdout", "5")
    assert code != 0 and "running experiment" in err
    code, out, err = cli("experiments", "stop", exp_id)
    assert code == 0 and "stopped" in out
    code, out, err = cli("experiments", "layer", "default", "--holdout", "5")
    assert code == 0 and "holdout 5%" in out
    spec = tmp_path / "exp.json"
    spec.write_text("{not json")
    code, out, err = cli("experiments", "create", "--file", str(spec))
    assert code != 0 and "cannot read" in err
