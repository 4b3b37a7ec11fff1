"""Pricing faces: the CLI on a simulated month with markdowns (fit, elasticities, recommendations,
what-if, apply and history, one-line errors) and the API on a real server (problem+json naming the field;
a price that names a user is refused: one price for everyone)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse


def _month(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="small", seed=9, users=500, days=30, markdown_rate=0.1)


def test_pricing_commands(cli, settings: Settings) -> None:
    wh = Warehouse.open(settings)
    try:
        _month(wh)
        newest = wh.sql("SELECT max(ts) FROM orders")[0][0]
    finally:
        wh.close()
    code, out, err = cli("pricing", "fit", "--json")
    assert code == 0, err
    fitted = json.loads(out)
    assert fitted["categories"] and fitted["fit_id"].startswith("fit_")
    code, out, err = cli("pricing", "fit")
    assert code == 0 and "elasticity" in out and "products:" in out
    code, out, err = cli("pricing", "elasticities", "--top", "5", "--json")
    assert code == 0, err
    top = json.loads(out)["products"]
    assert len(top) == 5 and top[0]["units"] >= top[-1]["units"]
    product = top[0]["product"]
    code, out, err = cli("pricing", "recommend", "--limit", "5", "--min-days", "0", "--json")
    assert code == 0, err
    recs = json.loads(out)
    assert len(recs["recommendations"]) == 5 and recs["products"] >= 5
    assert all(r["reasons"] for r in recs["recommendations"])
    code, out, err = cli("pricing", "recommend", "--limit", "3")
    assert code == 0 and "reasons" in out
    code, out, err = cli("pricing", "what-if", product, "50", "--json")
    assert code == 0, err
    assert json.loads(out)["price"] == 50
    start = (newest + timedelta(days=2)).isoformat()
    code, out, err = cli("pricing", "history", product, "--json")
    current = json.loads(out)["prices"]
    assert code == 0 and current
    cost = None
    wh = Warehouse.open(settings)
    try:
        cost = wh.sql("SELECT cost::DOUBLE FROM products WHERE product_id = ?", [product])[0][0]
    finally:
        wh.close()
    code, out, err = cli("pricing", "apply", product, f"{cost * 1.5:.2f}", "--start", start, "--json")
    assert code == 0, err
    assert json.loads(out)["price"] == round(cost * 1.5, 2)
    for args, word in (
        (("pricing", "apply", product, "0", "--start", start), "above zero"),
        (("pricing", "apply", product, f"{cost * 1.4:.2f}", "--start", start, "--was", "99999"), "was-price"),
        (("pricing", "apply", product, "10", "--start", "tomorrow"), "start"),
        (("pricing", "fit", "--context", "tv"), "context"),
        (("pricing", "recommend", "--lower", "2"), "bounds"),
        (("pricing", "what-if", "nope", "10"), "nope"),
    ):
        code, out, err = cli(*args)
        assert code != 0 and len(err.strip().splitlines()) == 1 and word in err, (args, err)
        assert "Traceback" not in err


@pytest.mark.slow
def test_pricing_through_the_api(live_server_factory) -> None:
    srv = live_server_factory(seed=_month)
    with srv.client("marketer") as c:
        r = c.post("/v1/pricing/elasticities", json={"context": "shelf"})
        assert r.status_code == 200, r.text
        product = max(r.json()["products"], key=lambda p: p["units"])["product"]
        r = c.get("/v1/pricing/recommendations", params={"limit": 3, "min_days": 0})
        assert r.status_code == 200 and len(r.json()["recommendations"]) == 3
        r = c.get("/v1/pricing/what-if", params={"product_id": product, "price": 20})
        assert r.status_code == 200 and r.json()["units"] > 0
        bad = c.get("/v1/pricing/recommendations", params={"lower": 2})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert "lower" in bad.text
        body = {"product_id": product, "price": 0.5, "start": "2027-01-01T00:00:00+08:00"}
        r = c.post("/v1/pricing/prices", json=body)
        assert r.status_code == 422 and r.json()["field"] == "price"  # below cost
        r = c.post("/v1/pricing/prices", json={**body, "price": 10_000, "user_id": "u1"})
        assert r.status_code == 422 and "user_id" in r.text  # one price for everyone: no audience
        r = c.post("/v1/pricing/prices", json={**body, "price": 10_000})
        assert r.status_code == 201, r.text
        history = c.get(f"/v1/pricing/prices/{product}").json()["prices"]
        assert history[0]["price"] == 10_000
    with srv.client("ingest") as c:
        assert c.get("/v1/pricing/recommendations").status_code == 403
        r = c.post(
            "/v1/competitor-prices",
            json={
                "prices": [
                    {"product_id": product, "competitor": "jd", "ts": "2026-11-20T10:00:00", "price": "9.9"}
                ]
            },
        )
        assert r.status_code in (200, 202), r.text
