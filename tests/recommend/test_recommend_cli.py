"""The recommend commands through the CLI entry point (in process): JSON output and one-line failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liveloop.warehouse import Warehouse


def test_bundles_json_and_bad_input(cli, settings, data_home: Path) -> None:
    code, out, err = cli("recommend", "bundles", "--top", "3", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["rules"] == 410 and len(body["top"]) == 3 and body["top"][0]["then"] == "bottled beer"

    code, _, err = cli("recommend", "show", "someone", "-k", "0")
    assert code == 2 and err.startswith("error: k must be between") and "Traceback" not in err

    code, _, err = cli("recommend", "train")
    assert code == 1 and "no product events" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_versions_show_rooms_pin_rollback(cli, settings, data_home: Path, monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    from liveloop.datasets.simulator import simulate_into_warehouse

    with Warehouse.open(settings) as wh:
        simulate_into_warehouse(wh, scale="tiny", seed=3)
        user = wh.sql(
            "SELECT user_id FROM events WHERE product_id IS NOT NULL GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1"
        )[0][0]
        sid, lineup = wh.sql("SELECT session_id, lineup FROM live_sessions ORDER BY session_id LIMIT 1")[0]
        now = datetime.now(UTC)
        wh.sql(
            "UPDATE live_sessions SET start_ts = ?, end_ts = ? WHERE session_id = ?",
            [now - timedelta(minutes=5), now + timedelta(hours=1), sid],
        )

    code, out, err = cli("recommend", "train", "--epochs", "1", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["activated"] and first["gate"]["passed"], first["gate"]  # the first model beats popularity
    assert first["model"] in ("hybrid", "als") and isinstance(first["metrics"]["holdout"], list)
    assert {r["model"] for r in first["metrics"]["holdout"]} >= {"popularity"}
    code, out, err = cli("recommend", "train", "--no-eval", "--force", "--seed", "1")
    assert code == 0, err
    assert "model version" in out
    code, out, _ = cli("recommend", "versions", "--json")
    versions = json.loads(out)
    assert len(versions) == 2 and [v["active"] for v in versions] == [True, False]
    second = versions[0]["version"]

    code, out, err = cli("recommend", "show", user, "-k", "5", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["model_version"] == second and len(shown["items"]) == 5 and shown["mode"] == "personalised"
    assert "explore" not in {i["reason"]["code"] for i in shown["items"]}
    code, out, _ = cli("recommend", "show", user, "-k", "5", "--explore", "--json")
    assert json.loads(out)["items"][-1]["reason"]["code"] == "explore"
    product = shown["items"][0]["product_id"]
    code, out, err = cli("recommend", "show", user, "--context", f"product:{product}")
    assert code == 0, err
    assert f"product:{product}" in out and "与「" in out  # "similar to …" reasons, human-readable

    code, out, err = cli("recommend", "rooms", user, "--json")
    assert code == 0, err
    rooms = json.loads(out)["rooms"]
    assert rooms[0]["session_id"] == sid and rooms[0]["live_now"]
    code, out, err = cli("recommend", "pin", sid, "--user", user, "--json")
    assert code == 0, err
    assert json.loads(out)["product"]["product_id"] in set(lineup)
    code, _, err = cli("recommend", "pin", "no-such-room", "--user", user)
    assert code == 1 and err.startswith("error: unknown live session") and len(err.strip().splitlines()) == 1

    code, out, err = cli("recommend", "rollback", first["version"], "--json")
    assert code == 0 and json.loads(out) == {"active": first["version"]}, err
    code, out, _ = cli("recommend", "show", user, "-k", "3", "--json")
    assert json.loads(out)["model_version"] == first["version"]
    code, _, err = cli("recommend", "rollback", "nope")
    assert code == 1 and "no recommend model version" in err
    with Warehouse.open(settings) as wh:  # every activation is an audited decision, by whom
        changes = wh.sql(
            "SELECT actor, decision, reason FROM audit_log WHERE action = 'model.version' ORDER BY audit_id"
        )
    assert changes[-1] == ("cli", "activated", first["version"]) and len(changes) >= 3

    monkeypatch.setenv("LIVELOOP_RECOMMEND_VALUE_WEIGHT", "lots")
    code, _, err = cli("recommend", "train", "--no-eval")
    assert code != 0 and "LIVELOOP_RECOMMEND_VALUE_WEIGHT must be" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setenv("LIVELOOP_RECOMMEND_VALUE_WEIGHT", "auto")
    code, out, err = cli("recommend", "train", "--no-eval", "--json")
    assert code == 0, err
    unevaluated = json.loads(out)
    assert unevaluated["model"] in ("hybrid", "als") and not unevaluated["activated"]
    assert err.startswith("warning: not activated: not evaluated")

    code, out, err = cli("recommend", "train", "--epochs", "1")  # the human-readable summary
    assert code == 0, err
    assert "hold-out (latest 20% of time)" in out and "activated: ndcg@10 candidate" in out, out


def test_eval_json_on_movielens(cli, settings, data_home: Path) -> None:
    code, out, err = cli(
        "recommend", "eval", "--dataset", "movielens_100k",
        "--models", "popularity,seqknn,als", "--protocol", "stratified", "--json",
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert body["dataset"] == "movielens_100k" and body["published"]["BPR (cornac)"]["ndcg@10"] == 0.442
    (block,) = body["results"]
    assert block["protocol"] == "stratified" and block["seen_items"] == "removed" and block["k"] == 10
    rows = {r["model"]: r for r in block["rows"]}
    assert set(rows) == {"popularity", "seqknn", "als"}
    assert rows["als"]["ndcg@10"] > rows["popularity"]["ndcg@10"] > 0.2
    assert rows["popularity"]["ndcg_lift_vs_popularity"] == 1
    assert block["train_events"] + block["test_events"] == 100_000

    code, _, err = cli("evaluate", "recommend", "--dataset", "nope")
    assert code != 0 and "no recommendation loader" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("recommend", "eval", "--protocol", "sideways")
    assert code != 0 and "unknown protocol" in err and "Traceback" not in err
