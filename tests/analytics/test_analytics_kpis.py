"""The KPI registry checked against hand-written pandas on a simulated world and the Taobao head; targets,
their status and alerts; the CLI and API faces."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from liveloop.analytics import kpis, targets
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse


def _pandas_kpis(orders: pd.DataFrame, events: pd.DataFrame, first_paid: pd.Series) -> dict[str, Any]:
    """The formulas of docs/measurement.md, written again in pandas."""
    placed = orders[~orders["status"].isin(["cancelled", "failed"])]
    paid = placed[placed["status"] != "refunded"]
    gmv = float(paid["amount"].astype(float).sum())
    enter = events[events["type"] == "enter_room"]
    viewers = enter["user_id"].nunique()
    per_buyer = paid.groupby("user_id")["order_id"].nunique()
    start = orders["ts"].min()
    visits = []
    for (_, _), g in events[
        events["type"].isin(["enter_room", "leave_room"]) & events["session_id"].notna()
    ].groupby(["user_id", "session_id"]):
        ins = sorted(g.loc[g["type"] == "enter_room", "ts"])
        outs = sorted(g.loc[g["type"] == "leave_room", "ts"])
        visits += [(b - a).total_seconds() for a, b in zip(ins, outs, strict=False) if b >= a]
    users_of = lambda kind: events.loc[events["type"] == kind, "user_id"].nunique()  # noqa: E731
    return {
        "gmv": gmv,
        "orders": paid["order_id"].nunique(),
        "buyers": paid["user_id"].nunique(),
        "aov": gmv / paid["order_id"].nunique(),
        "room_views": len(enter),
        "viewers": viewers,
        "gpm": gmv * 1000 / len(enter),
        "uv_value": gmv / viewers,
        "view_to_buy": paid["user_id"].nunique() / viewers,
        "avg_watch_seconds": sum(visits) / len(visits),
        "interaction_rate": events.loc[
            events["type"].isin(["like", "comment", "share", "gift"]), "user_id"
        ].nunique()
        / viewers,
        "follower_conversion": users_of("follow") / viewers,
        "product_ctr": len(events[(events["type"] == "click") & events["product_id"].notna()]) / len(enter),
        "add_to_cart_rate": users_of("add_to_cart") / users_of("view"),
        "refund_rate": (placed["status"] == "refunded").sum() / placed["order_id"].nunique(),
        "repurchase_rate": (per_buyer >= 2).sum() / len(per_buyer),
        "new_customer_share": (first_paid.loc[per_buyer.index] >= start).sum() / len(per_buyer),
    }


def test_every_kpi_matches_pandas_on_the_simulator(world: Warehouse) -> None:
    orders = world.df("SELECT order_id, user_id, ts, status, amount, session_id FROM orders")
    events = world.df("SELECT user_id, ts, type, session_id, product_id FROM events")
    first = orders[~orders["status"].isin(["cancelled", "failed", "refunded"])].groupby("user_id")["ts"].min()
    want = _pandas_kpis(orders, events, first)
    got = kpis.compute(world)["rows"]
    assert len(got) == 1 and got[0]["key"] == "all"
    for metric, value in want.items():
        assert got[0][metric] == pytest.approx(value, rel=1e-5), metric
    assert got[0]["impression_to_entry"] is None  # the simulator sends no impressions: no ratio, not 0


def test_grains_and_filters_add_up(world: Warehouse) -> None:
    platform = kpis.compute(world, ["gmv", "orders", "room_views"])["rows"][0]
    days = kpis.compute(world, ["gmv", "orders", "room_views"], "day")["rows"]
    assert sum(r["gmv"] for r in days) == pytest.approx(platform["gmv"])
    assert sum(r["room_views"] for r in days) == platform["room_views"]
    sessions = kpis.compute(world, ["gmv", "viewers"], "session")["rows"]
    sid = max((r for r in sessions if r["key"]), key=lambda r: r["gmv"] or 0)["key"]
    assert any(r["key"] is None for r in sessions)  # orders and events outside live rooms
    one = kpis.compute(world, ["gmv", "viewers"], where={"session": sid})["rows"][0]
    assert one["gmv"] == pytest.approx(next(r for r in sessions if r["key"] == sid)["gmv"])
    live = world.sql(
        "SELECT sum(amount) FROM orders WHERE session_id = ? AND status NOT IN ('cancelled', "
        "'failed', 'refunded')",
        [sid],
    )[0][0]
    assert one["gmv"] == pytest.approx(float(live))
    products = kpis.compute(world, ["gmv"], "product")["rows"]
    lines = world.sql(
        "SELECT sum(i.amount) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.status NOT IN ('cancelled', 'failed', 'refunded')"
    )[0][0]
    assert sum(r["gmv"] or 0 for r in products) == pytest.approx(float(lines))
    hosts = kpis.compute(world, ["room_views"], "host")["rows"]
    assert sum(r["room_views"] for r in hosts) == platform["room_views"]


def test_event_kpis_on_the_taobao_head(wh: Warehouse, data_home: Path) -> None:
    from liveloop.ingest import import_file

    import_file(wh, data_home / "taobao_userbehavior_head" / "UserBehavior_head84k.csv", adapter="taobao")
    events = wh.df("SELECT user_id, type FROM events")
    row = kpis.compute(wh, ["add_to_cart_rate", "gmv", "viewers", "gpm"])["rows"][0]
    carts = events.loc[events["type"] == "add_to_cart", "user_id"].nunique()
    views = events.loc[events["type"] == "view", "user_id"].nunique()
    assert row["add_to_cart_rate"] == pytest.approx(carts / views)
    assert row["gmv"] == 0 and row["viewers"] == 0 and row["gpm"] is None  # no orders, no live rooms


def test_bad_requests_name_the_field(world: Warehouse) -> None:
    for call, field in (
        (lambda: kpis.compute(world, ["gmv", "happiness"]), "metrics"),
        (lambda: kpis.compute(world, grain="fortnight"), "grain"),
        (lambda: kpis.compute(world, where={"platform": "x"}), "where"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            call()
        assert bad.value.field == field
    newest = targets.newest_data(world)
    with pytest.raises(ValidationFailed) as bad:
        kpis.compute(world, start=newest, end=newest - timedelta(days=1))
    assert bad.value.field == "end"


def test_targets_track_the_period_and_raise_alerts(world: Warehouse, tmp_path: Path) -> None:
    world.sql("DELETE FROM kpi_targets")
    newest = targets.newest_data(world)
    start = targets.period_start(newest, "month", "Asia/Shanghai")
    so_far = kpis.compute(world, ["gmv", "refund_rate"], start=start, end=newest + timedelta(seconds=1))[
        "rows"
    ][0]
    toml = tmp_path / "targets.toml"
    toml.write_text(
        f"[[target]]\nmetric = 'gmv'\nperiod = 'month'\ntarget = {so_far['gmv'] * 1000:.2f}\n"
        f"[[target]]\nmetric = 'refund_rate'\nperiod = 'month'\ntarget = 0.5\nhigh = 0.9\n",
        encoding="utf-8",
    )
    assert len(targets.load_toml(world, toml, actor="t")) == 2
    report = targets.status(world, tz="Asia/Shanghai")
    by = {t["metric"]: t for t in report["targets"]}
    assert by["gmv"]["actual"] == pytest.approx(so_far["gmv"])
    assert by["gmv"]["status"] == "off_track" and 0 < by["gmv"]["elapsed"] <= 1
    assert by["refund_rate"]["status"] == "on_track"  # lower is better, and under 0.5
    (alert,) = report["alerts"]
    assert alert["metric"] == "gmv" and "off track" in alert["en"] and "落后" in alert["zh"]
    # a bad file stores nothing, and says which target and field
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[[target]]\nmetric = 'gmv'\nperiod = 'month'\ntarget = 1\n[[target]]\nmetric = "
        "'joy'\nperiod = 'day'\ntarget = 1\n"
    )
    with pytest.raises(ValidationFailed) as err:
        targets.load_toml(world, bad)
    assert err.value.field == "metric" and len(targets.list_targets(world)) == 2
    for spec, field in (
        ({"metric": "gmv", "period": "year", "target": 1}, "period"),
        ({"metric": "gmv", "period": "day", "target": -1}, "target"),
        ({"metric": "gmv", "period": "day", "target": 1, "low": 5, "high": 2}, "low"),
        ({"metric": "gmv", "period": "day", "target": 1, "grain": "day"}, "grain"),
        ({"metric": "gmv", "period": "day", "target": 1, "colour": "red"}, "colour"),
    ):
        with pytest.raises(ValidationFailed) as err:
            targets.Target.from_dict(spec)
        assert err.value.field == field


def test_cli_and_api(cli, server, wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=5, users=60, days=2)
    wh.close()  # the CLI opens the same file
    code, out, err = cli("kpi", "show", "--metric", "gmv", "--metric", "gpm", "--grain", "day", "--json")
    assert code == 0, err
    assert {m["key"] for m in json.loads(out)["metrics"]} == {"gmv", "gpm"}
    code, _, err = cli("kpi", "show", "--grain", "fortnight")
    assert code != 0 and err.strip().count("\n") == 0 and "grain" in err
    code, out, err = cli("kpi", "targets", "set", "orders", "--period", "week", "--target", "10")
    assert code == 0, err
    code, out, err = cli("kpi", "status", "--json")
    assert code == 0 and json.loads(out)["targets"][0]["metric"] == "orders"

    with server.client("analyst") as c:
        r = c.get("/v1/kpis", params={"metric": ["gmv", "aov"], "grain": "platform"})
        assert r.status_code == 200 and r.json()["rows"][0]["key"] == "all"
        bad = c.get("/v1/kpis", params={"metric": "joy"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert "metrics" in bad.text
        assert c.get("/v1/kpis", params={"grain": "fortnight"}).status_code == 422
        put = c.put("/v1/kpis/targets", json={"metric": "gmv", "period": "month", "target": 1000})
        assert put.status_code == 200
        assert (
            c.put("/v1/kpis/targets", json={"metric": "joy", "period": "month", "target": 1}).status_code
            == 422
        )
        assert any(t["metric"] == "gmv" for t in c.get("/v1/kpis/targets").json())
        assert c.get("/v1/kpis/status").status_code == 200
        assert c.delete("/v1/kpis/targets/gmv/month").status_code == 204
        assert c.delete("/v1/kpis/targets/gmv/month").status_code == 404
    with server.client("ingest") as c:
        assert c.get("/v1/kpis").status_code == 403
