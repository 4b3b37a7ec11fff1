"""Simulated versus real distributions, within the tolerances documented in docs/simulator.md.

Real references, read through liveloop.datasets: the Taobao UserBehavior head (funnel ratios, item and
user concentration), the Bilibili live-room logs (comment rate per viewer-minute and burstiness), and two
price histories (Dominick's orange juice per store-week, Olist products per month) for shelf markdowns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liveloop.core.config import Settings
from liveloop.datasets import load
from liveloop.datasets.simulator.realism import (
    burstiness,
    funnel_ratios,
    gini,
    observed_item_gini,
    price_dynamics,
    room_visits,
)

#: Tolerances (also in docs/simulator.md).
FUNNEL_REL_TOL = 0.30  # each of cart/view, fav/view, buy/view within ±30% of Taobao's
ITEM_GINI_ABS_TOL = 0.07
USER_GINI_ABS_TOL = 0.08
COMMENT_RATE_FACTOR = 2.0  # comments per viewer-minute within ×/÷ 2 of Bilibili's
BURST_FACTOR = 2.5  # excess dispersion of 10-s comment counts within ×/÷ 2.5
PRICE_CHANGE_ABS_TOL = 0.08  # share of weeks with a new price within ±0.08 of both real histories


@pytest.fixture(scope="module")
def taobao(data_home: Path) -> pd.DataFrame:
    return load("taobao_userbehavior_head", Settings(data_home=data_home))["UserBehavior_head84k.csv"]


@pytest.fixture(scope="module")
def bilibili(data_home: Path) -> dict[str, pd.DataFrame]:
    return load("bilibili_live_room_events_20211230", Settings(data_home=data_home))


@pytest.fixture(scope="module")
def sim_events(small_world: dict[str, Any]) -> pd.DataFrame:
    return pd.read_parquet(
        small_world["dir"] / "events.parquet", columns=["ts", "user_id", "type", "session_id", "product_id"]
    )


def test_funnel_ratios_match_taobao(taobao: pd.DataFrame, sim_events: pd.DataFrame) -> None:
    real = funnel_ratios(taobao["behavior_type"])
    sim = funnel_ratios(sim_events["type"], "view", "add_to_cart", "favorite", "purchase")
    for step in ("cart", "fav", "buy"):
        assert abs(sim[step] / real[step] - 1) <= FUNNEL_REL_TOL, (step, sim[step], real[step])


def test_item_popularity_concentration_matches_taobao(taobao: pd.DataFrame, sim_events: pd.DataFrame) -> None:
    counts = taobao["item_id"].value_counts()
    real = gini(counts.to_numpy())
    depth = len(taobao) / len(counts)  # events per distinct item seen in the real sample
    views = sim_events.loc[sim_events["type"] == "view", "product_id"].to_numpy()
    sim = observed_item_gini(views, depth)
    assert abs(sim - real) <= ITEM_GINI_ABS_TOL, (sim, real)
    # the full simulated log is heavy-tailed: the top 10% of products draw far more than 10% of views
    full = pd.Series(views).value_counts().to_numpy()
    assert gini(full) > 0.4
    assert full[: max(1, len(full) // 10)].sum() / full.sum() > 0.25


def test_user_activity_concentration_matches_taobao(taobao: pd.DataFrame, sim_events: pd.DataFrame) -> None:
    window = taobao[(taobao["timestamp"] >= 1_511_539_200) & (taobao["timestamp"] < 1_512_316_800)]
    real = gini(window.loc[window["behavior_type"] == "pv", "user_id"].value_counts().to_numpy())
    views = sim_events[sim_events["type"] == "view"]
    start = views["ts"].min() + pd.Timedelta(days=5)
    nine = views[(views["ts"] >= start) & (views["ts"] < start + pd.Timedelta(days=9))]
    sim = gini(nine["user_id"].value_counts().to_numpy())
    assert abs(sim - real) <= USER_GINI_ABS_TOL, (sim, real)


def _real_room(bilibili: dict[str, pd.DataFrame]) -> tuple[float, float]:
    """Comments per viewer-minute and 10-s excess dispersion of the biggest room (11365)."""
    danmaku = bilibili["danmaku.csv.gz"]
    online = bilibili["online_rank_count.csv.gz"]
    room = danmaku[danmaku["room_id"] == 11365]
    viewers = online[online["room_id"] == 11365].groupby(online["delta_s"] // 60)["count"].mean()
    per_minute = room.groupby(room["delta_s"] // 60).size()
    joined = pd.concat([per_minute.rename("c"), viewers.rename("v")], axis=1).dropna()
    rate = joined["c"].sum() / joined["v"].sum()
    return float(rate), burstiness(room["delta_s"].to_numpy())["excess"]


def test_comment_rate_and_burstiness_match_bilibili(
    bilibili: dict[str, pd.DataFrame], sim_events: pd.DataFrame
) -> None:
    real_rate, real_excess = _real_room(bilibili)
    stays = room_visits(sim_events)
    viewer_minutes = (stays["leave"] - stays["enter"]).dt.total_seconds().sum() / 60
    comments = sim_events[sim_events["type"] == "comment"]
    sim_rate = len(comments) / viewer_minutes
    assert 1 / COMMENT_RATE_FACTOR <= sim_rate / real_rate <= COMMENT_RATE_FACTOR, (sim_rate, real_rate)
    busiest = comments["session_id"].value_counts().index[:8]
    excess = [
        burstiness(comments.loc[comments["session_id"] == s, "ts"].astype("int64").to_numpy() / 1e6)["excess"]
        for s in busiest
    ]
    sim_excess = float(np.median(excess))
    assert 1 / BURST_FACTOR <= sim_excess / real_excess <= BURST_FACTOR, (sim_excess, real_excess)


def test_diurnal_weekly_and_festival_patterns(sim_events: pd.DataFrame) -> None:
    local = sim_events["ts"].dt.tz_convert("Asia/Shanghai")
    by_hour = local.dt.hour.value_counts()
    assert by_hour.loc[[20, 21]].mean() > 3 * by_hour.loc[[3, 4]].mean()
    by_day = local.dt.date.value_counts()
    festival = by_day[pd.Timestamp("2026-11-11").date()]
    assert festival > 2 * by_day.median()


def _real_price_histories(data_home: Path) -> list[dict[str, float]]:
    settings = Settings(data_home=data_home)
    oj = load("bayesm_retail_pricing", settings)["orangejuice_yx.csv.gz"]
    own = oj[[f"price{i}" for i in range(1, 12)]].to_numpy()[np.arange(len(oj)), oj["brand"] - 1]
    key = oj["store"].astype(str) + "-" + oj["brand"].astype(str)
    olist = pd.read_csv(data_home / "retail_price_optimization" / "retail_price.csv")
    month = pd.to_datetime(olist["month_year"], format="%d/%m/%Y")
    return [
        price_dynamics(pd.DataFrame({"key": key, "period": oj["week"], "price": own})),
        price_dynamics(
            pd.DataFrame(
                {
                    "key": olist["product_id"],
                    "period": month.dt.year * 12 + month.dt.month,
                    "price": olist["unit_price"],
                }
            )
        ),
    ]


def test_shelf_markdowns_move_like_real_price_histories(data_home: Path) -> None:
    """At the realistic markdown rate, weekly shelf-price snapshots change as often as real weekly and
    monthly price histories do, sit below the top price about as often and by a real median depth."""
    from datetime import date

    from liveloop.datasets.simulator import ModelParams, SimConfig
    from liveloop.datasets.simulator.config import REALISTIC_MARKDOWN_RATE
    from liveloop.datasets.simulator.world import build_world

    real = _real_price_histories(data_home)
    cfg = SimConfig.preset("small", seed=11, days=63, start=date(2026, 1, 5)).with_(
        params=ModelParams(markdown_rate=REALISTIC_MARKDOWN_RATE)
    )
    world = build_world(cfg)
    n = world.products.n
    snapshots = np.stack([world.shelf_prices(np.arange(n), d) for d in range(0, cfg.days, 7)], axis=1)
    sim = price_dynamics(
        pd.DataFrame(
            {
                "key": np.repeat(np.arange(n), snapshots.shape[1]),
                "period": np.tile(np.arange(snapshots.shape[1]), n),
                "price": snapshots.ravel(),
            }
        )
    )
    for ref in real:
        assert abs(sim["change_share"] - ref["change_share"]) <= PRICE_CHANGE_ABS_TOL, (sim, ref)
    assert (
        min(r["below_share"] for r in real) * 0.7 <= sim["below_share"] <= max(r["below_share"] for r in real)
    )
    assert (
        min(r["median_depth"] for r in real) * 0.8
        <= sim["median_depth"]
        <= max(r["median_depth"] for r in real)
    )
    assert not build_world(cfg.with_(params=ModelParams())).markdown.any()  # off by default


def test_the_ad_auction_stream_clicks_as_often_as_a_real_random_ad_policy(data_home: Path) -> None:
    """The simulated ad impressions' click rate sits inside the Open Bandit Dataset's uniformly random
    policy's three campaigns (0.38–0.46 %), widened by their sampling error (about ±0.13 points each)."""
    from liveloop.datasets.simulator import SimConfig
    from liveloop.datasets.simulator.auctions import auction_stream
    from liveloop.datasets.simulator.world import build_world

    obd = load("open_bandit_dataset_small", Settings(data_home=data_home))
    rates = [obd[f"random/{c}/{c}.csv.gz"]["click"].mean() for c in ("all", "men", "women")]
    stream = auction_stream(build_world(SimConfig.preset("small", seed=11)), 400_000, seed=1)
    simulated = float(stream["click"].mean())
    assert min(rates) - 0.0013 <= simulated <= max(rates) + 0.0013, (simulated, rates)
    assert stream["conversion"].sum() < stream["click"].sum()  # a click converts with the funnel's rate
    assert 0.035 < float(np.median(stream["market_price"])) < 0.045  # the assumed median CPM (40 CNY)
