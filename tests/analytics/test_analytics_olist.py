"""The lead → deal funnel by channel and the deals per channel, on the real Olist marketing funnel imported
through ``liveloop.ingest`` (adapter ``olist_funnel``), checked against a hand-written pandas computation
on the raw CSV files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from liveloop.analytics import funnels, kpis
from liveloop.core.config import Settings
from liveloop.datasets import import_dataset
from liveloop.warehouse import Warehouse

FOLDER = "olist_marketing_funnel"
#: Olist's origin → liveloop channel, as docs/data-model.md states it (unknown or empty: no channel).
CHANNEL_OF = {
    "organic_search": "search",
    "paid_search": "search",
    "social": "social",
    "email": "email",
    "display": "feed",
    "referral": "other",
    "direct_traffic": "other",
    "other_publicities": "other",
    "other": "other",
}
WINDOW = pd.Timedelta(days=90)


def _raw(data_home: Path) -> pd.DataFrame:
    """Every lead with its channel, first-contact and won times (UTC; NaT: no deal)."""
    folder = data_home / FOLDER
    read = {"dtype": str, "keep_default_na": False}
    leads = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv", **read)
    deals = pd.read_csv(folder / "olist_closed_deals_dataset.csv", **read)
    assert leads["mql_id"].is_unique and deals["mql_id"].is_unique
    assert deals["mql_id"].isin(leads["mql_id"]).all()
    out = leads.merge(deals[["mql_id", "won_date"]], on="mql_id", how="left")
    out["channel"] = out["origin"].map(CHANNEL_OF)  # "unknown" and "" are not in the map: NaN
    for column, text in (("contact", "first_contact_date"), ("won", "won_date")):
        # São Paulo time; 2017-10-15 had no midnight (clocks jumped to 01:00): a day starts when it starts
        local = pd.to_datetime(out[text]).dt.tz_localize("America/Sao_Paulo", nonexistent="shift_forward")
        out[column] = local.dt.tz_convert("UTC")
    return out


@pytest.fixture
def olist(wh: Warehouse, data_home: Path) -> Warehouse:
    report = import_dataset(wh, FOLDER, settings=Settings(data_home=data_home))
    assert report.rows_read == 8000 + 842 == report.loaded and report.quarantined == 0
    again = import_dataset(wh, FOLDER, settings=Settings(data_home=data_home))
    assert again.loaded == 0 and again.duplicates == again.rows_read  # importing twice adds nothing
    return wh


def _key(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def test_lead_to_deal_funnel_by_channel_matches_pandas(olist: Warehouse, data_home: Path) -> None:
    raw = _raw(data_home)
    lag = raw["won"] - raw["contact"]
    raw["converted"] = lag.notna() & (lag >= pd.Timedelta(0)) & (lag <= WINDOW)
    want = {
        _key(channel): (len(g), int(g["converted"].sum()))
        for channel, g in raw.groupby("channel", dropna=False)
    }
    spec = funnels.FunnelSpec(
        ("signup", "purchase"), window_s=int(WINDOW.total_seconds()), breakdown="channel"
    )
    got = funnels.run(olist, spec)
    by_channel = {g["breakdown"]: g["steps"] for g in got["groups"]}
    assert {k: (s[0]["users"], s[1]["users"]) for k, s in by_channel.items()} == want
    for channel, (leads, deals) in want.items():
        assert by_channel[channel][1]["from_previous"] == round(deals / leads, 4)
    assert [s["users"] for s in got["steps"]] == [8000, int(raw["converted"].sum())]
    # the deals the 90-day window leaves out: 151 closed later, and one won the evening before its lead's
    # first-contact date (a quirk of the data, kept as it is)
    assert (lag > WINDOW).sum() == 151 and (lag < pd.Timedelta(0)).sum() == 1
    assert want["search"] == (3882, 367) and want["email"] == (493, 12) and raw["converted"].sum() == 690


def test_deals_and_conversion_per_channel_match_pandas(olist: Warehouse, data_home: Path) -> None:
    """Every deal, however long it took: the KPIs per channel (a deal is an order on its lead's channel)
    against the leads per channel, as pandas counts them."""
    raw = _raw(data_home)
    leads = raw.groupby("channel", dropna=False).size()
    deals = raw[raw["won"].notna()].groupby("channel", dropna=False).size()
    want = {
        _key(k): (int(deals.get(k, 0)), round(int(deals.get(k, 0)) / int(n), 6)) for k, n in leads.items()
    }

    rows = kpis.compute(olist, ["orders", "buyers"], grain="channel")["rows"]
    orders = {row["key"]: row["orders"] for row in rows}
    assert all(row["buyers"] == row["orders"] for row in rows)  # one deal per lead
    spec = funnels.FunnelSpec(("signup", "purchase"), window_s=86400, breakdown="channel")
    lead_counts = {g["breakdown"]: g["steps"][0]["users"] for g in funnels.run(olist, spec)["groups"]}
    assert {k: (int(n), round(n / lead_counts[k], 6)) for k, n in orders.items()} == want
    assert sum(orders.values()) == 842
    total = kpis.compute(olist, ["orders", "gmv"])["rows"][0]
    assert total["orders"] == 842 and total["gmv"] == 0  # a deal has no value in the data
