"""Budget plans on a simulated world with paid media: fitted curves, a plan within its bounds that
expects at least the proportional split, spend tracked against it, the CLI with one-line errors and the
API with problem+json and roles."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from liveloop.budget import plans
from liveloop.core.config import Settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

TZ = "Asia/Shanghai"


def _world(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="small", seed=11, users=1500, days=56, media_budget=400)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("budget") / "w.duckdb"
    wh = Warehouse(path)
    try:
        _world(wh)
    finally:
        wh.close()
    return path


def test_a_plan_allocates_within_bounds_and_tracks_spend(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(world.read_bytes())
    wh = Warehouse(copy)
    try:
        model = plans.fit_model(wh, TZ)
        assert model.channels() == ["feed_ads", "kol", "search_ads", "social"] and model.days == 55
        recent = plans.fit_model(wh, TZ, days=30)  # the newest 30 days of spend, the partial one left out
        newest = wh.sql("SELECT max(day) FROM ad_spend")[0][0]
        assert recent.start == str(newest - timedelta(days=29)) and recent.end == model.end
        described = plans.describe_model(model)
        assert all(c["roi_at_last"] is not None and c["beta"] >= 0 for c in described["curves"])
        last = sum(c.last_spend for c in model.curves)
        starts = date.fromisoformat(model.end) + timedelta(days=1)
        plan = plans.create_plan(wh, TZ, name="next week", starts=starts, days=7, total=last * 7, model=model)
        assert plan["total"] == pytest.approx(last * 7, abs=0.01) and plan["days"] == 7
        for line in plan["lines"]:
            assert line["low_daily"] - 0.01 <= line["planned_daily"] <= line["high_daily"] + 0.01
            assert line["low_daily"] == pytest.approx(0.7 * line["last_daily"], abs=0.01)
        assert plan["expected"]["extra_gmv"] >= plan["expected"]["proportional_extra_gmv"] - 0.01
        # two days of spend come in: the plan says how far along each channel is
        rows = [
            {
                "day": str(starts + timedelta(d)),
                "channel": line["channel"],
                "spend": line["planned_daily"] / 2,
            }
            for d in range(2)
            for line in plan["lines"]
        ]
        wh.sql("DELETE FROM ad_spend WHERE day >= ?", [starts])
        from liveloop.budget.spend import record_spend

        record_spend(wh, rows)
        tracked = plans.get_plan(wh, plan["plan_id"], tz=TZ, today=starts + timedelta(days=1))
        assert tracked["days_elapsed"] == 2 and tracked["pace"] == pytest.approx(0.5, abs=0.01)
        assert all(line["pace"] == pytest.approx(0.5, abs=0.01) for line in tracked["lines"])
        roi = plans.create_plan(wh, TZ, name="roi", starts=starts, days=7, target_roi=0.5, model=model)
        assert roi["objective"] == "roi" and roi["expected"]["roi"] >= 0.5 - 1e-3
        assert [p["plan_id"] for p in plans.list_plans(wh)][:2] == [roi["plan_id"], plan["plan_id"]]
        audited = wh.sql("SELECT count(*) FROM audit_log WHERE action = 'budget.plan'")[0][0]
        assert audited == 2
        with pytest.raises(ValidationFailed) as bad:
            plans.create_plan(wh, TZ, name="x", starts=starts, days=7, total=1.0, model=model)
        assert bad.value.field == "total" and "bounds" in bad.value.detail
        with pytest.raises(NotFound):
            plans.get_plan(wh, "bp_nope", tz=TZ)
        for kwargs, field in (
            ({"name": " "}, "name"),
            ({"starts": date(9999, 12, 31)}, "starts"),
            ({"starts": date(1, 1, 1)}, "starts"),
            ({"low": 1.2}, "low"),
            ({"high": 0.5}, "high"),
        ):
            args = {"name": "x", "starts": starts, "days": 7, "total": last * 7, "model": model} | kwargs
            with pytest.raises(ValidationFailed) as refused:
                plans.create_plan(wh, TZ, **args)  # type: ignore[arg-type]
            assert refused.value.field == field
        assert wh.sql("SELECT count(*) FROM budget_plans")[0][0] == 2  # nothing of a refused plan

    finally:
        wh.close()


def test_the_demo_plans_next_week(world: Path, tmp_path: Path) -> None:
    from liveloop.demo import DemoContext, step_budget

    copy = tmp_path / "w.duckdb"
    copy.write_bytes(world.read_bytes())
    wh = Warehouse(copy)
    try:
        done = step_budget(DemoContext(settings=Settings(home=tmp_path / "home"), wh=wh))
        plan = plans.get_plan(wh, done["plan"], tz=TZ)
        assert done["page"] == "/pricing#budget" and plan["days"] == 7 and plan["days_elapsed"] == 0
        assert plan["expected"]["extra_gmv"] == done["expected extra GMV"] > 0
    finally:
        wh.close()


def test_a_plans_days_are_the_shops_days(world: Path, tmp_path: Path) -> None:
    """Today is the shop's today: a plan starting today on Kiritimati (UTC+14) has begun there, and has
    not yet where the date is a day or two behind (UTC−12), whatever the hour."""
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(world.read_bytes())
    wh = Warehouse(copy)
    try:
        model = plans.fit_model(wh, TZ)
        ahead = "Pacific/Kiritimati"
        total = 7 * sum(c.last_spend for c in model.curves)
        plan = plans.create_plan(
            wh, ahead, name="x", starts=plans.default_start(ahead) - timedelta(days=1), days=7, total=total,
            model=model,
        )  # fmt: skip
        assert plan["days_elapsed"] == 1
        assert plans.get_plan(wh, plan["plan_id"], tz="Etc/GMT+12")["days_elapsed"] == 0
    finally:
        wh.close()


def test_budget_commands(cli, settings: Settings, world: Path, tmp_path: Path) -> None:
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    settings.db_path.write_bytes(world.read_bytes())
    code, out, err = cli("budget", "fit", "--json")
    assert code == 0, err
    assert [c["channel"] for c in json.loads(out)["curves"]] == ["feed_ads", "kol", "search_ads", "social"]
    code, out, err = cli("budget", "fit")
    assert code == 0 and "feed_ads" in out and "carry-over" in out
    code, out, err = cli("budget", "plan", "next week", "--target-roi", "0.5", "--days", "7", "--json")
    assert code == 0, err
    plan = json.loads(out)
    code, out, err = cli("budget", "plan", "same budget", "--days", "7", "--json")  # last period's, anew
    assert code == 0, err
    same = json.loads(out)
    assert same["objective"] == "response"
    assert same["total"] == pytest.approx(sum(x["last_daily"] for x in same["lines"]) * 7, abs=0.1)
    code, out, err = cli("budget", "show", plan["plan_id"])
    assert code == 0 and "feed_ads" in out and "pace" in out
    code, out, err = cli("budget", "plans")
    assert code == 0 and plan["plan_id"] in out
    spend = tmp_path / "spend.csv"
    spend.write_text("day,channel,spend\n2026-01-05,feed_ads,100\n", encoding="utf-8")
    code, out, err = cli("budget", "spend", str(spend))
    assert code == 0 and "1 rows" in out
    future = tmp_path / "future.csv"
    future.write_text("day,channel,spend\n2030-01-01,feed_ads,100\n", encoding="utf-8")
    for args, word in (
        (("budget", "spend", str(future)), "out of range"),
        (("budget", "plan", "x", "--total", "1"), "bounds"),
        (("budget", "plan", "x", "--total", "1000", "--starts", "tomorrow"), "starts"),
        (("budget", "plan", "x", "--total", "1000", "--starts", "9999-12-31"), "starts"),
        (("budget", "plan", "x", "--target-roi", "0.5", "--low", "2"), "lower bound"),
        (("budget", "show", "bp_nope"), "bp_nope"),
        (("budget", "spend", str(tmp_path / "none.csv")), "none.csv"),
    ):
        code, out, err = cli(*args)
        assert code != 0 and len(err.strip().splitlines()) == 1 and word in err, (args, err)


@pytest.mark.slow
def test_budget_through_the_api(live_server_factory) -> None:
    srv = live_server_factory(seed=_world)
    with srv.client("marketer") as c:
        model = c.get("/v1/budget/model")
        assert model.status_code == 200 and len(model.json()["curves"]) == 4
        bad = c.post("/v1/budget/plans", json={"name": "x", "total": 10, "days": 7})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["field"] == "total"
        r = c.post("/v1/budget/plans", json={"name": "x", "target_roi": 0.5, "days": 7, "budget": 1})
        assert r.status_code == 422 and "budget" in r.text
        r = c.post("/v1/budget/plans", json={"name": "next week", "target_roi": 0.5, "days": 7})
        assert r.status_code == 201, r.text
        pid = r.json()["plan_id"]
        assert [p["plan_id"] for p in c.get("/v1/budget/plans").json()["items"]] == [pid]
        assert c.get(f"/v1/budget/plans/{pid}").json()["lines"][0]["channel"] == "feed_ads"
        assert c.get("/v1/budget/plans/bp_nope").status_code == 404
        r = c.post("/v1/budget/spend", json={"rows": [{"day": "2026-01-05", "channel": "feed_ads", "spend": 5,
                                                        "currency": "USD"}]})  # fmt: skip
        assert r.status_code == 422 and r.json()["field"] == "currency"
        r = c.post(
            "/v1/budget/spend", json={"rows": [{"day": "9999-12-31", "channel": "feed_ads", "spend": 5}]}
        )
        assert r.status_code == 422 and r.json()["field"] == "day"  # the range every write path keeps
    with srv.client("ingest") as c:
        r = c.post(
            "/v1/budget/spend", json={"rows": [{"day": "2026-01-05", "channel": "feed_ads", "spend": 5}]}
        )
        assert r.status_code == 200 and r.json()["rows"] == 1
        assert c.get("/v1/budget/plans").status_code == 403
    with srv.client("analyst") as c:
        assert c.get("/v1/budget/plans").status_code == 200
        assert c.post("/v1/budget/plans", json={"name": "x", "total": 10}).status_code == 403
