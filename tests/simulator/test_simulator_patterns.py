"""Calendar and lifecycle: the weekly and festival traffic pattern, product seasonality in conversion, and
churn (a user's activity stops at their churn time, which follows the documented hazard)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from liveloop.datasets.simulator import Oracle
from liveloop.datasets.simulator.utility import funnel, utility

#: Traffic multipliers of docs/simulator.md ("Traffic"), relative to an ordinary weekday.
WEEKEND, RUN_UP, FESTIVAL, AFTER = 1.15, 1.7, 3.5, 1.3


def _days(small_world: dict[str, Any], events: pd.DataFrame) -> pd.DataFrame:
    """Per local day: off-live views per unit of activity of the users alive that day, and the weekday."""
    root = small_world["dir"]
    users = pd.read_parquet(root / "users.parquet", columns=["user_id", "signup_ts"]).merge(
        pd.read_parquet(root / "truth" / "users_truth.parquet", columns=["user_id", "activity", "churn_ts"]),
        on="user_id",
    )
    views = events[(events["type"] == "view") & events["session_id"].isna()]
    day = views["ts"].dt.tz_convert("Asia/Shanghai").dt.normalize()
    rows = []
    for d, n in day.value_counts().sort_index().items():
        lo, hi = d.tz_convert("UTC"), d.tz_convert("UTC") + pd.Timedelta(days=1)
        alive = (users["signup_ts"] < hi) & (users["churn_ts"] > lo)
        rows.append(
            {
                "date": d.strftime("%m-%d"),
                "weekend": d.dayofweek >= 5,
                "per": n / users["activity"][alive].sum(),
            }
        )
    return pd.DataFrame(rows).set_index("date")


def test_weekly_and_festival_traffic(small_world: dict[str, Any], small_events) -> None:
    days = _days(small_world, small_events)
    assert len(days) == small_world["cfg"].days
    festive = days.index.isin(["11-08", "11-09", "11-10", "11-11", "11-12", "11-13"])
    ordinary = days[~festive]
    assert ordinary["weekend"].sum() >= 4 and (~ordinary["weekend"]).sum() >= 8
    weekday = ordinary.loc[~ordinary["weekend"], "per"].mean()
    assert abs(weekday / small_world["cfg"].params.browse_per_user_day - 1) < 0.05  # 3 views a day
    weekend = ordinary.loc[ordinary["weekend"], "per"].mean()
    assert abs(weekend / weekday - WEEKEND) < 0.06, weekend / weekday
    assert (ordinary.loc[ordinary["weekend"], "per"] > weekday).all()  # every weekend day, not on average
    assert abs(days.loc[["11-09", "11-10"], "per"].mean() / weekday - RUN_UP) < 0.12  # Mon-Tue before 11.11
    assert abs(days.loc["11-08", "per"] / weekday - RUN_UP * WEEKEND) < 0.15  # a Sunday in the run-up
    assert abs(days.loc["11-11", "per"] / weekday - FESTIVAL) < 0.25
    assert abs(days.loc[["11-12", "11-13"], "per"].mean() / weekday - AFTER) < 0.1


def test_seasonality_moves_conversion(small_world: dict[str, Any], small_events) -> None:
    oracle = Oracle.load(small_world["dir"] / "truth")
    world = oracle.world
    truth = pd.read_parquet(small_world["dir"] / "truth" / "products_truth.parquet")
    # apparel peaks in winter (December-January), other categories anywhere in the year
    apparel = np.flatnonzero(world.products.category == 1)
    peak = truth["season_peak_month"].to_numpy()[apparel] % 12
    assert np.mean((peak >= 10.5) | (peak <= 2.5)) > 0.85
    off = small_events[small_events["session_id"].isna() & small_events["type"].isin(["view", "add_to_cart"])]
    t0 = pd.Timestamp(world.config.start.isoformat(), tz="Asia/Shanghai")
    day = ((off["ts"] - t0).dt.total_seconds() // 86_400).astype(int).to_numpy()
    j = off["product_id"].str[len(oracle.prefix) + 1 :].astype(int).to_numpy()
    i = off["user_id"].str[len(oracle.prefix) + 1 :].astype(int).to_numpy()
    season = np.empty(len(off))
    for d in np.unique(day):
        season[day == d] = world.season(j[day == d], int(d))
    is_view = (off["type"] == "view").to_numpy()
    expected, flat = np.zeros(len(off)), np.zeros(len(off))
    for d in np.unique(day[is_view]):
        m = is_view & (day == d)
        u = utility(world, i[m], j[m], int(d))
        expected[m], flat[m] = funnel(world, u)[0], funnel(world, u - season[m])[0]
    group = np.digitize(season, [-0.15, 0.15])  # out of season, neutral, in season
    rows = []
    for g in range(3):
        views, carts = (group == g) & is_view, (group == g) & ~is_view
        rows.append((views.sum(), carts.sum(), expected[views].sum(), flat[views].sum()))
    table = pd.DataFrame(rows, columns=["views", "carts", "expected", "without_season"])
    assert (table["views"] > 5000).all()
    ratio = table["carts"] / table["expected"]
    assert ratio.between(0.9, 1.12).all(), table  # carts follow the model, season term included
    # without the season term the model misses by far in and out of season: seasonality is in the data
    miss = table["carts"] / table["without_season"]
    assert miss[0] < 0.88 and miss[2] > 1.15, table
    rate = table["carts"] / table["views"]
    assert rate[2] > 1.4 * rate[0]


def test_activity_stops_at_churn_and_churn_follows_the_hazard(small_world: dict[str, Any], sq) -> None:
    after = sq(
        "SELECT e.type, count(*) FROM {events} e JOIN {truth_users_truth} t USING (user_id) "
        "WHERE e.ts >= t.churn_ts GROUP BY 1"
    )
    assert {t for t, _ in after} <= {"refund"}  # only refunds of earlier purchases come after churn
    churned = sq(
        "WITH w AS (SELECT min(ts) AS lo, max(ts) AS hi FROM {events}) "
        "SELECT count(DISTINCT e.user_id) FROM {events} e JOIN {truth_users_truth} t USING (user_id), w "
        "WHERE t.churn_ts BETWEEN w.lo AND w.hi AND e.ts < t.churn_ts AND e.type = 'view'"
    )[0][0]
    assert churned > 30  # users active in the window before they churned in it
    life = sq(
        "SELECT epoch(t.churn_ts - u.signup_ts) / 86400 FROM {truth_users_truth} t "
        "JOIN {users} u USING (user_id)"
    )
    lifetimes = np.array([r[0] for r in life])
    # hazard h ~ Gamma(2, mean 1/180), life ~ Exponential(h): P(life > x) = (1 + x / 360) ** -2
    for x in (30, 90, 180, 360, 720):
        assert abs((lifetimes > x).mean() - (1 + x / 360) ** -2) < 0.035, x
