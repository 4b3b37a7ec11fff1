"""Funnels (ordered, strict, any order) and retention cohorts checked against plain Python on the
simulator, the Taobao head and the Online Retail sample; bad specs; the CLI and API faces."""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from liveloop.analytics import cohorts, funnels
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

STEPS = ("view", "add_to_cart", "purchase")
WINDOW = 6 * 3600


def _reference(events: pd.DataFrame, steps: tuple[str, ...], window: int, mode: str) -> list[int]:
    """Users reaching each step, user by user (the definitions of docs/measurement.md, in plain Python)."""
    events = events.sort_values(["user_id", "ts"], kind="stable")
    reach = [0] * len(steps)
    for _, g in events.groupby("user_id"):
        ts = [t.timestamp() for t in g["ts"]]
        types = list(g["type"])
        by_type: dict[str, list[float]] = defaultdict(list)
        for t, kind in zip(ts, types, strict=True):
            by_type[kind].append(t)
        best = 0
        if mode == "any":
            marks = [
                (t, k) for t, kind in zip(ts, types, strict=True) for k, s in enumerate(steps) if s == kind
            ]
            for t0, _ in marks:
                best = max(best, len({k for t, k in marks if t0 <= t <= t0 + window}))
        else:
            for t0 in by_type[steps[0]]:
                depth, t = 1, t0
                for step in steps[1:]:
                    if mode == "strict":  # the next moment's events must hold the step
                        i = bisect.bisect_right(ts, t)
                        if i == len(ts) or ts[i] > t0 + window:
                            break
                        j = bisect.bisect_right(ts, ts[i])
                        if step not in types[i:j]:
                            break
                        t = ts[i]
                    else:
                        times = by_type[step]
                        i = bisect.bisect_left(times, t)
                        if i == len(times) or times[i] > t0 + window:
                            break
                        t = times[i]
                    depth += 1
                best = max(best, depth)
        for k in range(best):
            reach[k] += 1
    return reach


@pytest.mark.parametrize("mode", funnels.MODES)
def test_funnels_match_plain_python_on_the_simulator(world: Warehouse, mode: str) -> None:
    events = world.df("SELECT user_id, ts, type FROM events")
    if mode != "strict":
        events = events[events["type"].isin(STEPS)]
    want = _reference(events, STEPS, WINDOW, mode)
    got = funnels.run(world, funnels.FunnelSpec(STEPS, window_s=WINDOW, mode=mode))
    assert [s["users"] for s in got["steps"]] == want
    assert want[-1] > 0 and want[0] > want[-1]
    s = got["steps"]
    assert s[2]["from_previous"] == pytest.approx(want[2] / want[1], abs=1e-4)
    assert s[2]["from_first"] == pytest.approx(want[2] / want[0], abs=1e-4)


def test_ordered_funnel_on_the_taobao_head(wh: Warehouse, data_home: Path) -> None:
    from liveloop.ingest import import_file

    import_file(wh, data_home / "taobao_userbehavior_head" / "UserBehavior_head84k.csv", adapter="taobao")
    events = wh.df("SELECT user_id, ts, type FROM events WHERE type IN ('view', 'add_to_cart', 'purchase')")
    want = _reference(events, STEPS, 86400, "ordered")
    got = funnels.run(wh, funnels.FunnelSpec(STEPS, window_s=86400))
    assert [s["users"] for s in got["steps"]] == want and want[2] > 0


def test_time_to_convert_and_breakdowns(world: Warehouse) -> None:
    got = funnels.run(world, funnels.FunnelSpec(STEPS, window_s=WINDOW))
    t = got["steps"][2]["time_to_convert_s"]
    assert t and 0 <= t["p25"] <= t["median"] <= t["p75"] <= t["p90"] <= WINDOW
    split = funnels.run(world, funnels.FunnelSpec(STEPS, window_s=WINDOW, breakdown="channel"))
    assert len(split["groups"]) > 1
    for k in range(3):  # a user counts in the group of the attempt that got furthest: the groups add up
        assert sum(g["steps"][k]["users"] for g in split["groups"]) == got["steps"][k]["users"]
    live = funnels.run(world, funnels.FunnelSpec.preset("live", window_s=3 * 3600))
    assert [s["step"] for s in live["steps"]][:3] == ["impression", "enter_room", "stay_30s"]
    assert live["steps"][0]["users"] == 0  # the simulator shows no impressions: nothing is invented
    stays = funnels.run(world, funnels.FunnelSpec(("enter_room", "stay_30s", "click"), window_s=3 * 3600))
    assert stays["steps"][0]["users"] >= stays["steps"][1]["users"] > 0


def _insert(wh: Warehouse, events: list[tuple[str, int, str, str]]) -> None:
    """Events (user, second, type, channel) from 2026-11-01 00:00 UTC."""
    wh.sql(
        "INSERT INTO events (event_id, ts, user_id, type, channel) SELECT 'x' || i, "
        "TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(s), u, k, c FROM "
        "(SELECT unnest(?) AS u, unnest(?) AS s, unnest(?) AS k, unnest(?) AS c, unnest(range(?)) AS i)",
        [*map(list, zip(*events, strict=True)), len(events)],
    )


def _ordered_reference(events: pd.DataFrame, steps: tuple[str, ...], window: int) -> list[int]:
    """Every attempt tried, events at one instant in every order (a repeated step needs a later event)."""
    reach = [0] * len(steps)
    for _, g in events.groupby("user_id"):
        marks = sorted(zip(g["s"], g["type"], range(len(g)), strict=True))
        best = 0
        for t0, kind, i0 in marks:
            if kind != steps[0]:
                continue
            depth, t, used = 1, t0, {i0}
            for k, step in enumerate(steps[1:], 1):
                nxt = [
                    (s, i) for s, kd, i in marks
                    if kd == step and i not in used and (s > t if step == steps[k - 1] else s >= t)
                ]  # fmt: skip
                if not nxt or min(nxt)[0] > t0 + window:
                    break
                t, i = min(nxt)
                used.add(i)
                depth += 1
            best = max(best, depth)
        for k in range(best):
            reach[k] += 1
    return reach


@pytest.mark.parametrize("seed", range(4))
def test_ordered_funnel_on_dense_random_events(wh: Warehouse, seed: int) -> None:
    """Ties at one instant, events at the window's edge, repeated steps: the level joins agree with trying
    every attempt, user by user."""
    import random

    rng = random.Random(seed)
    kinds = ("view", "click", "add_to_cart", "purchase")
    window = 600
    events = [
        (f"u{u}", rng.choice((0, 60, 300, 600, 601, 900, 1200)) + rng.randrange(0, 3) * 300,
         rng.choice(kinds), rng.choice(("feed", "live")))
        for u in range(120) for _ in range(rng.randrange(1, 9))
    ]  # fmt: skip
    _insert(wh, events)
    frame = pd.DataFrame(events, columns=["user_id", "s", "type", "channel"])
    for steps in (("view", "click", "add_to_cart", "purchase"), ("view", "view", "purchase")):
        got = funnels.run(wh, funnels.FunnelSpec(steps, window_s=window, breakdown="channel"))
        assert [s["users"] for s in got["steps"]] == _ordered_reference(frame, steps, window), steps
        for k in range(len(steps)):
            assert sum(g["steps"][k]["users"] for g in got["groups"]) == got["steps"][k]["users"]


def test_a_users_chain_is_the_first_to_get_furthest_from_the_latest_start(wh: Warehouse) -> None:
    """Views at 0 s (feed) and 1,800 s (live), a click at 3,600 s, a cart at 4,000 s: the chain starts at
    the later view (its channel, 1,800 s to the click); a user who only viewed counts by the first view."""
    _insert(
        wh,
        [
            ("a", 0, "view", "feed"), ("a", 1800, "view", "live"), ("a", 3600, "click", "feed"),
            ("a", 4000, "add_to_cart", "feed"), ("b", 100, "view", "social"), ("b", 200, "view", "feed"),
            ("c", 0, "view", "feed"), ("c", 1800, "view", None), ("c", 3600, "click", "feed"),
            ("d", 0, "view", None), ("d", 100, "view", "feed"),
        ],
    )  # fmt: skip
    got = funnels.run(
        wh, funnels.FunnelSpec(("view", "click", "add_to_cart"), window_s=7200, breakdown="channel")
    )
    groups = {g["breakdown"]: [s["users"] for s in g["steps"]] for g in got["groups"]}
    # c's chain and d's first view have no channel: counted there, not under another view's channel
    assert groups == {"live": [1, 1, 1], "social": [1, 0, 0], None: [2, 1, 0]}
    steps = got["steps"]
    assert steps[1]["time_to_convert_s"]["median"] == 1800 and steps[2]["time_to_convert_s"]["median"] == 400


def test_bad_funnels_name_the_field() -> None:
    for spec, field in (
        (funnels.FunnelSpec(("view",)), "steps"),
        (funnels.FunnelSpec(("view", "teleport")), "steps[1]"),
        (funnels.FunnelSpec(STEPS, window_s=0), "window_s"),
        (funnels.FunnelSpec(STEPS, mode="sideways"), "mode"),
        (funnels.FunnelSpec(STEPS, breakdown="zodiac"), "breakdown"),
        (funnels.FunnelSpec(("enter_room", "stay_30s"), mode="strict"), "mode"),
        (funnels.FunnelSpec(("view", "view"), mode="any"), "steps"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            spec.check()
        assert bad.value.field == field
    with pytest.raises(ValidationFailed) as bad:
        funnels.FunnelSpec.preset("checkout")
    assert bad.value.field == "preset"
    assert funnels.FunnelSpec.of(" view, purchase ", None).steps == ("view", "purchase")
    assert funnels.FunnelSpec.of(None, "live").steps == funnels.PRESETS["live"]
    for steps, preset in ((None, None), ("view,purchase", "live")):
        with pytest.raises(ValidationFailed) as bad:
            funnels.FunnelSpec.of(steps, preset)
        assert bad.value.field == "steps"


def test_retention_matches_pandas_on_online_retail(wh: Warehouse, data_home: Path) -> None:
    from liveloop.ingest import import_file

    folder = data_home / "online_retail_sample40k"
    source = folder / "online_retail_sample40k.csv.gz"
    import_file(wh, source, adapter="online_retail")
    orders = wh.df(
        "SELECT user_id, timezone('Asia/Shanghai', ts) AS local FROM orders "
        "WHERE status NOT IN ('cancelled', 'failed', 'refunded')"
    )
    orders["week"] = orders["local"].dt.to_period("W-SUN").dt.start_time.dt.date
    first = orders.groupby("user_id")["week"].min().rename("cohort")
    joined = orders[["user_id", "week"]].drop_duplicates().join(first, on="user_id")
    joined["k"] = joined.apply(lambda r: (r["week"] - r["cohort"]).days // 7, axis=1)
    want = joined[joined["k"] <= 4].groupby(["cohort", "k"])["user_id"].nunique()
    got = cohorts.retention(wh, period="week", offsets=4)
    assert got["cohorts"], "the sample has paid orders"
    for c in got["cohorts"]:
        for k, n in enumerate(c["retained"]):
            if n is not None:
                assert n == want.get((pd.Timestamp(c["cohort"]).date(), k), 0), (c["cohort"], k)
    assert got["overall"][0] == 1.0
    with pytest.raises(ValidationFailed) as bad:
        cohorts.retention(wh, period="fortnight")
    assert bad.value.field == "period"
    with pytest.raises(ValidationFailed) as bad:
        cohorts.retention(wh, offsets=0)
    assert bad.value.field == "offsets"


def test_cli_and_api(cli, server, wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=5, users=60, days=2)
    wh.close()  # the CLI opens the same file
    code, out, err = cli("funnel", "--steps", "view,add_to_cart,purchase", "--window", "6h", "--json")
    assert code == 0, err
    assert [s["step"] for s in json.loads(out)["steps"]] == list(STEPS)
    code, _, err = cli("funnel", "--steps", "view", "--window", "1h")
    assert code != 0 and err.strip().count("\n") == 0 and "two steps" in err
    code, _, err = cli("funnel", "--steps", "view,purchase", "--window", "soon")
    assert code != 0 and "window" in err
    code, out, err = cli("cohort", "retention", "--period", "week", "--offsets", "2", "--json")
    assert code == 0 and json.loads(out)["period"] == "week"

    with server.client("analyst") as c:
        r = c.post("/v1/funnels", json={"steps": list(STEPS), "window_s": 3600})
        assert r.status_code == 200 and len(r.json()["steps"]) == 3
        assert c.post("/v1/funnels", json={"preset": "live"}).status_code == 200
        bad = c.post("/v1/funnels", json={"steps": ["view", "teleport"]})
        assert bad.status_code == 422 and "steps" in bad.text
        assert c.post("/v1/funnels", json={"steps": ["view"]}).status_code == 422
        assert c.post("/v1/funnels", json={"steps": list(STEPS), "window_s": 0}).status_code == 422
        assert c.get("/v1/cohorts", params={"period": "month"}).status_code == 200
    with server.client("ingest") as c:
        assert c.post("/v1/funnels", json={"preset": "live"}).status_code == 403


@pytest.mark.parametrize("mode", ["ordered", "any"])
def test_a_funnel_answers_the_same_every_run(wh: Warehouse, mode: str) -> None:
    """Chains that tie (two clicks after one view: the same start) and groups of equal size: every run,
    on any number of threads, picks the same chain and lists the groups in the same order."""
    import random

    rng = random.Random(3)
    events = []
    for u in range(4000):
        channel = rng.choice(("feed", "live", "search", "social"))
        first, second = sorted(rng.sample(range(10, 500), 2))
        events += [(f"u{u}", 0, "view", channel), (f"u{u}", first, "click", "feed")]
        events += [(f"u{u}", second, "click", "live"), (f"u{u}", 600, "add_to_cart", channel)]
    _insert(wh, events)
    spec = funnels.FunnelSpec(("view", "click", "add_to_cart"), window_s=3600, mode=mode, breakdown="channel")
    runs = {json.dumps(funnels.run(wh, spec), sort_keys=True) for _ in range(8)}
    assert len(runs) == 1
