"""A category's penetration in each segment, checked against pandas on a simulated world with profiles;
the CLI's one-line error for an unknown category."""

from __future__ import annotations

import json

import pytest

from liveloop.analytics.penetration import penetration
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.profiles import build_profiles
from liveloop.warehouse import Warehouse


def test_penetration_matches_pandas_and_the_cli(cli, wh: Warehouse, settings) -> None:
    simulate_into_warehouse(wh, scale="small", seed=5, users=150, days=3)
    build_profiles(wh, settings=settings)
    got = penetration(wh, "beauty")
    users = wh.arrow(
        "SELECT u.user_id, p.segment_id FROM users u LEFT JOIN profiles p USING (user_id)"
    ).to_pandas()
    lines = wh.arrow(
        "SELECT o.user_id, o.status, pr.category FROM orders o JOIN order_items i USING (order_id) "
        "JOIN products pr USING (product_id)"
    ).to_pandas()
    ok = lines[~lines["status"].isin(["cancelled", "failed", "refunded"]) & (lines["category"] == "beauty")]
    users["bought"] = users["user_id"].isin(set(ok["user_id"]))
    users["segment_id"] = users["segment_id"].fillna("unsegmented")
    by = users.groupby("segment_id")["bought"].agg(["size", "sum"])
    assert {r["segment_id"]: (r["users"], r["buyers"]) for r in got["segments"]} == {
        s: (int(n), int(b)) for s, (n, b) in by.iterrows()
    }
    assert got["overall"]["penetration"] == pytest.approx(users["bought"].mean(), abs=1e-6)
    assert sum(r["buyers"] for r in got["segments"]) > 0
    with pytest.raises(ValidationFailed) as err:
        penetration(wh, "toys")
    assert err.value.field == "category"
    wh.close()
    code, out, err_text = cli("kpi", "penetration", "beauty", "--json")
    assert code == 0, err_text
    assert json.loads(out)["overall"] == got["overall"]
    code, _, err_text = cli("kpi", "penetration", "toys")
    assert code != 0 and err_text.strip().count("\n") == 0 and "unknown category" in err_text
