"""Attribution models on a hand-built set of paths whose credits (and Markov removal effects) are worked
out by hand; cost, CAC, ROAS, ROI; cost intake by file and API; bad input."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liveloop.analytics import attribution
from liveloop.core.errors import ValidationFailed
from liveloop.ingest import ingest_records
from liveloop.warehouse import Warehouse

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _world(wh: Warehouse) -> None:
    """u1: feed → buys; u2: search → buys; u3: feed → search → buys; u4, u5: search, no order; u6 buys with
    no touch; u7's only touch is 10 days before its order (outside a 7-day look-back)."""
    touches = [
        ("u1", "feed", 0), ("u2", "search", 0), ("u3", "feed", 0), ("u3", "search", 1), ("u4", "search", 0),
        ("u5", "search", 0), ("u7", "feed", -240),
    ]  # fmt: skip
    events = [
        {
            "event_id": f"t{i}",
            "user_id": u,
            "type": "view",
            "channel": c,
            "ts": (T0 + timedelta(hours=h)).isoformat(),
        }
        for i, (u, c, h) in enumerate(touches)
    ]
    assert ingest_records(wh, "events", events).rejected == 0
    orders = [
        {
            "order_id": f"o-{u}",
            "user_id": u,
            "ts": (T0 + timedelta(hours=5)).isoformat(),
            "status": "paid",
            "amount": "100.00",
        }
        for u in ("u1", "u2", "u3", "u6", "u7")
    ]
    assert ingest_records(wh, "orders", orders).rejected == 0


def _credit(r: dict) -> dict[str, float]:
    return {row["touch"]: round(row["orders"], 4) for row in r["rows"] if row["orders"]}


def test_each_model_credits_the_paths_as_worked_out_by_hand(wh: Warehouse) -> None:
    _world(wh)
    assert _credit(attribution.attribute(wh, model="last")) == {"feed": 1, "search": 2, "direct": 2}
    assert _credit(attribution.attribute(wh, model="first")) == {"feed": 2, "search": 1, "direct": 2}
    assert _credit(attribution.attribute(wh, model="linear")) == {"feed": 1.5, "search": 1.5, "direct": 2}
    assert _credit(attribution.attribute(wh, model="position")) == {"feed": 1.5, "search": 1.5, "direct": 2}
    # Markov: start→feed 2, start→search 3; feed→conv 1, feed→search 1; search→conv 2, search→null 2.
    # P(conv) = 0.4·(0.5 + 0.5·0.5) + 0.6·0.5 = 0.6; without feed 0.3 (effect 0.5), without search 0.2 (2/3)
    effects = attribution.removal_effects(
        Counter({("feed",): 1, ("search",): 1, ("feed", "search"): 1}), Counter({("search",): 2})
    )
    assert effects == pytest.approx({"feed": 0.5, "search": 2 / 3})
    markov = _credit(attribution.attribute(wh, model="markov"))
    share = 0.5 / (0.5 + 2 / 3)
    assert markov == pytest.approx({"feed": 1 + share, "search": 1 + (1 - share), "direct": 2}, abs=1e-4)
    r = attribution.attribute(wh, model="last")
    assert r["orders"] == 5 and r["gmv"] == 500
    paths = {tuple(p["path"]): p for p in r["paths"]}
    assert paths[("search",)]["conversions"] == 1 and paths[("search",)]["non_converting"] == 2
    assert paths[("direct",)]["conversions"] == 2
    # a 30-day look-back reaches u7's old touch
    assert _credit(attribution.attribute(wh, model="last", window_days=30))["feed"] == 2


def test_cost_cac_roas_roi_and_a_currency_mix(wh: Warehouse) -> None:
    _world(wh)
    costs = [
        {"day": "2026-11-01", "channel": "feed", "amount": "100.00", "currency": "CNY"},
        {"day": "2026-11-01", "channel": "search", "amount": "50.00"},
    ]
    assert ingest_records(wh, "costs", costs).rejected == 0
    rows = {r["touch"]: r for r in attribution.attribute(wh, model="last")["rows"]}
    assert rows["feed"]["cost"] == 100 and rows["feed"]["roas"] == 1.0 and rows["feed"]["roi"] == 0.0
    assert rows["search"]["roas"] == 4.0 and rows["search"]["cac"] == 25.0  # 50 / two new customers
    bad = ingest_records(
        wh,
        "costs",
        [
            {"day": "2026-11-02", "channel": "feed", "amount": "-5"},
            {"day": "2026-11-02", "channel": "tv", "amount": "5"},
        ],
    )
    assert bad.rejected == 2 and {r.reason.split(":")[0] for r in bad.results if r.reason} >= {
        "negative_amount"
    }
    ingest_records(wh, "costs", [{"day": "2026-11-03", "channel": "feed", "amount": "9", "currency": "USD"}])
    with pytest.raises(ValidationFailed) as mix:
        attribution.attribute(wh)
    assert mix.value.field == "currency" and "USD" in mix.value.detail


def test_bad_requests_name_the_field(wh: Warehouse) -> None:
    for kwargs, field in (
        ({"model": "vibes"}, "model"),
        ({"level": "planet"}, "level"),
        ({"window_days": 0}, "window_days"),
        ({"start": T0, "end": T0}, "end"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            attribution.attribute(wh, **kwargs)
        assert bad.value.field == field


def test_cli_import_and_api(cli, server, wh: Warehouse, tmp_path: Path) -> None:
    _world(wh)
    wh.close()
    costs = tmp_path / "costs.csv"
    costs.write_text("day,channel,amount\n2026-11-01,feed,100\n2026-11-01,search,abc\n", encoding="utf-8")
    code, out, err = cli("import", str(costs), "--adapter", "native", "--table", "costs", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["loaded"] == 1 and report["quarantined"] == 1
    code, out, err = cli("attribution", "--model", "markov", "--json")
    assert code == 0, err
    assert {r["touch"] for r in json.loads(out)["rows"]} >= {"feed", "search", "direct"}
    code, _, err = cli("attribution", "--model", "vibes")
    assert code != 0 and err.strip().count("\n") == 0 and "model" in err

    with server.client("ingest") as c:
        r = c.post("/v1/costs", json={"costs": [{"day": "2026-11-01", "channel": "feed", "amount": "10"}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1
        bad = c.post(
            "/v1/costs",
            json={"costs": [{"day": "2026-11-01", "channel": "feed", "amount": "10", "colour": "red"}]},
        )
        assert bad.status_code == 422 and "colour" in bad.text
    with server.client("analyst") as c:
        got = c.get("/v1/attribution", params={"model": "all"})
        assert got.status_code == 200 and set(got.json()) == set(attribution.MODELS)
        assert c.get("/v1/attribution", params={"model": "vibes"}).status_code == 422
        assert c.get("/v1/attribution", params={"window_days": 0}).status_code == 422
