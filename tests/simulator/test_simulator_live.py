"""Live rooms: lineup order moves attention and sales, viewers come and go along the documented curve,
gifts/shares/follows happen at their documented rates (heavy-tailed across users), coupons are claimed
and redeemed as the utility model says."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from liveloop.datasets.simulator import Oracle, simulate_to_dir
from liveloop.datasets.simulator.behaviour import GIFT_P, GIFT_VALUES
from liveloop.datasets.simulator.realism import gini, room_visits

EARLY, LATE = list(range(0, 4)), list(range(8, 20))  # lineup positions compared (0 = first presented)


def _sessions(root: Path) -> pd.DataFrame:
    sessions = pd.read_parquet(root / "live_sessions.parquet")
    sessions["lineup"] = sessions["lineup"].map(json.loads)
    sessions["n_slots"] = sessions["lineup"].map(len)
    return sessions


def _visits(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Visits with their offsets ``a``/``b`` into the session (s), its duration and slot length."""
    v = room_visits(events).merge(sessions[["session_id", "start_ts", "end_ts", "n_slots"]], on="session_id")
    v["dur"] = (v["end_ts"] - v["start_ts"]).dt.total_seconds()
    v["a"] = (v["enter"] - v["start_ts"]).dt.total_seconds()
    v["b"] = (v["leave"] - v["start_ts"]).dt.total_seconds()
    v["slot_len"] = v["dur"] / v["n_slots"]
    return v


def _lineup_stats(root: Path) -> dict[str, float]:
    """Clicks and purchases per unit of attention in early and late lineup positions.

    Attention to slot k is what the click model documents: a visit overlapping the slot by t seconds counts
    min(1, t / 120). Clicks and purchases are placed by the position of their product in the lineup.
    """
    cols = ["ts", "user_id", "type", "session_id", "product_id"]
    events = pd.read_parquet(root / "events.parquet", columns=cols)
    sessions = _sessions(root)
    v = _visits(events, sessions)
    attention = np.zeros(20)
    for k in range(20):
        overlap = np.minimum(v["b"], (k + 1) * v["slot_len"]) - np.maximum(v["a"], k * v["slot_len"])
        attention[k] = (np.clip(overlap, 0, 120) * (k < v["n_slots"])).sum() / 120
    lineups = sessions.set_index("session_id")["lineup"]
    out = {
        "early_pos": float(np.average(EARLY, weights=attention[EARLY])),
        "late_pos": float(np.average(LATE, weights=attention[LATE])),
    }
    for etype in ("click", "purchase"):
        live = events[(events["type"] == etype) & events["session_id"].notna()]
        pos = [lineups[s].index(p) for s, p in zip(live["session_id"], live["product_id"], strict=True)]
        count = np.bincount(pos, minlength=20)[:20]
        early = count[EARLY].sum() / attention[EARLY].sum()
        late = count[LATE].sum() / attention[LATE].sum()
        out[f"{etype}_ratio"] = early / late
        out[f"{etype}_late"] = float(count[LATE].sum())
        out[f"{etype}_rate"] = float(count.sum() / attention.sum())
    return out


def test_earlier_lineup_slots_get_more_attention_and_sales(
    small_world: dict[str, Any], tmp_path: Path
) -> None:
    cfg = small_world["cfg"]
    decay = cfg.params.attention_decay
    ranked = _lineup_stats(small_world["dir"])
    # the same world with attention_decay = 0: position alone then moves nothing ("other things equal")
    simulate_to_dir(tmp_path, cfg.with_(params=replace(cfg.params, attention_decay=0.0)))
    flat = _lineup_stats(tmp_path)
    assert ranked["click_late"] > 300 and ranked["purchase_late"] > 15  # enough events to measure
    assert abs(flat["click_ratio"] - 1) < 0.15, flat
    # utility falls by attention_decay per position, so a click probability p falls by about
    # exp(-attention_decay * (1 - p)) per position
    predicted = np.exp(decay * (1 - ranked["click_rate"]) * (ranked["late_pos"] - ranked["early_pos"]))
    observed = ranked["click_ratio"] / flat["click_ratio"]
    assert observed > 1.25 and abs(observed / predicted - 1) < 0.15, (observed, predicted)
    # sales fall faster: click, cart and purchase all carry the position term
    assert ranked["purchase_ratio"] > max(1.5 * flat["purchase_ratio"], observed), (ranked, flat)


def test_viewers_arrive_and_leave_along_the_documented_curve(
    small_world: dict[str, Any], small_events
) -> None:
    v = _visits(small_events, _sessions(small_world["dir"]))
    assert len(v) > 3000
    arrival = v["a"] / v["dur"]

    def documented(x: np.ndarray) -> np.ndarray:  # 40% Beta(1.2, 6) openers, 60% Beta(1, 1.3), over 97%
        y = np.minimum(np.asarray(x) / 0.97, 1)
        return 0.4 * stats.beta(1.2, 6).cdf(y) + 0.6 * stats.beta(1, 1.3).cdf(y)

    assert stats.kstest(arrival, documented).statistic < 0.03
    # stays: LogNormal(median 7 min, sigma 1), cut at the session's end (few are)
    cut = v["b"] >= v["dur"] - 1
    assert cut.mean() < 0.05
    log_stay = np.log(v.loc[~cut, "b"] - v.loc[~cut, "a"])
    assert abs(np.exp(log_stay.median()) / 420 - 1) < 0.1
    assert abs(log_stay.std() - 1.0) < 0.1
    # concurrent viewers over the session: a ramp-up, an early peak, then a long decay
    grid = np.linspace(0, 1, 41)[1:-1]
    a, b = arrival.to_numpy(), (v["b"] / v["dur"]).to_numpy()
    online = np.array([((a <= g) & (b > g)).sum() for g in grid])
    peak = int(np.argmax(online))
    assert 0.05 <= grid[peak] <= 0.3, grid[peak]
    assert online[0] < 0.6 * online[peak]  # at 2.5% of the session the room is still filling
    assert online[grid >= 0.9].mean() < 0.4 * online[peak]
    after = online[peak:]
    assert (np.diff(after) <= 0.05 * online[peak]).all()  # no second rush after the peak


def test_gifts_shares_and_follows_at_documented_rates_heavy_tailed(
    small_world: dict[str, Any], small_events
) -> None:
    p = small_world["cfg"].params
    assert (p.like_rate, p.gift_rate, p.follow_p, p.share_p) == (0.35, 0.004, 0.015, 0.01)  # the docs' rates
    v = room_visits(small_events)
    viewer_minutes = (v["leave"] - v["enter"]).dt.total_seconds().sum() / 60
    count = small_events["type"].value_counts()
    assert count["gift"] > 150 and count["share"] > 40 and count["follow"] > 60
    assert abs(count["like"] / viewer_minutes / p.like_rate - 1) < 0.15
    assert abs(count["gift"] / viewer_minutes / p.gift_rate - 1) < 0.3
    assert abs(count["follow"] / len(v) / p.follow_p - 1) < 0.3
    assert abs(count["share"] / len(v) / p.share_p - 1) < 0.35
    gifts = small_events[small_events["type"] == "gift"]
    amount = gifts["amount"].astype(float)
    observed = amount.value_counts().reindex(GIFT_VALUES, fill_value=0).to_numpy()
    assert stats.chisquare(observed, GIFT_P * len(amount)).pvalue > 1e-3
    # heavy tails across users: a few viewers give most of the value and do most of the social actions
    viewers = v["user_id"].unique()
    value = gifts.groupby("user_id")["amount"].sum().astype(float).reindex(viewers, fill_value=0)
    assert gini(value.to_numpy()) > 0.85
    top = np.sort(value.to_numpy())[::-1]
    assert top[: max(1, len(top) // 100)].sum() > 0.3 * top.sum()
    social = small_events[small_events["type"].isin(["gift", "share", "follow", "like"])]
    acts = social.groupby("user_id").size().reindex(viewers, fill_value=0)
    assert gini(acts.to_numpy()) > 0.6
    # ... and it is the latent social activity that drives them
    truth = pd.read_parquet(small_world["dir"] / "truth" / "users_truth.parquet").set_index("user_id")
    per_visit = acts / v.groupby("user_id").size().reindex(viewers)
    quartile = pd.qcut(truth["social_activity"].reindex(viewers), 4, labels=False)
    by_q = per_visit.groupby(quartile).mean()
    assert by_q.is_monotonic_increasing and by_q.iloc[-1] > 4 * by_q.iloc[0]


def test_coupons_claimed_then_redeemed_as_the_truth_expects(
    small_world: dict[str, Any], small_events, sq
) -> None:
    root = small_world["dir"]
    coupons = pd.read_parquet(root / "coupons.parquet")
    assert len(coupons) > 100 and (coupons["rule"] == "amount_off").all()
    claims = small_events[small_events["type"] == "coupon_claim"]
    redeems = small_events[small_events["type"] == "coupon_redeem"]
    assert len(redeems) > 50 and len(claims) > len(redeems)
    cid = lambda df: df["props"].map(lambda s: json.loads(s)["coupon_id"])  # noqa: E731
    claims, redeems = claims.assign(coupon_id=cid(claims)), redeems.assign(coupon_id=cid(redeems))
    assert set(claims["coupon_id"]) <= set(coupons["coupon_id"])
    assert not claims.duplicated(["user_id", "coupon_id"]).any()  # claimed once per user
    # claims fall inside the coupon's validity; each redemption follows its user's claim
    valid = claims.merge(coupons[["coupon_id", "starts_at", "ends_at"]], on="coupon_id")
    assert ((valid["ts"] >= valid["starts_at"]) & (valid["ts"] <= valid["ends_at"])).all()
    first = claims.groupby(["user_id", "coupon_id"])["ts"].min().rename("claimed")
    r = redeems.join(first, on=["user_id", "coupon_id"])
    assert r["claimed"].notna().all() and (r["claimed"] <= r["ts"]).all()
    # each redemption belongs to an order carrying the coupon, discounted by exactly its amount
    bad = sq(
        "SELECT count(*) FROM {events} e "
        "JOIN {orders} o ON o.order_id = json_extract_string(e.props, '$.order_id') "
        "JOIN {order_items} i USING (order_id) JOIN {coupons} c ON c.coupon_id = o.coupon_id "
        "WHERE e.type = 'coupon_redeem' AND (json_extract_string(e.props, '$.coupon_id') <> o.coupon_id "
        "OR e.amount <> c.amount OR o.amount <> i.amount - c.amount OR i.product_id <> e.product_id)"
    )[0][0]
    assert bad == 0
    assert sq("SELECT count(*) FROM {orders} WHERE coupon_id IS NOT NULL")[0][0] == len(redeems)
    # every purchase of a product while its slot offers a coupon redeems it
    slot_coupons = sq(
        "SELECT count(*) FROM {events} e JOIN {coupons} c ON e.session_id = json_extract_string(c.props, "
        "'$.session_id') AND e.product_id = json_extract_string(c.props, '$.product_id') "
        "WHERE e.type = 'purchase'"
    )[0][0]
    assert slot_coupons == len(redeems)
    # the truth: expected purchases over each slot's actual audience, with the coupon and without it
    truth = pd.read_parquet(root / "truth" / "coupons_truth.parquet")
    assert set(truth["coupon_id"]) == set(coupons["coupon_id"])
    assert (truth["expected_purchases"] >= truth["expected_purchases_without_coupon"]).all()
    lift = truth["expected_purchases"].sum() / truth["expected_purchases_without_coupon"].sum()
    assert lift > 1.1
    # redemptions match the truth where stock never ran out (a sold-out product can only lose purchases)
    in_stock = sq(
        "SELECT p.product_id FROM {products} p LEFT JOIN (SELECT product_id, sum(quantity) AS q "
        "FROM {order_items} GROUP BY 1) s USING (product_id) WHERE coalesce(s.q, 0) < p.stock"
    )
    product = coupons.set_index("coupon_id")["props"].map(lambda s: json.loads(s)["product_id"])
    keep = set(product[product.isin({row[0] for row in in_stock})].index)
    expected = truth.loc[truth["coupon_id"].isin(keep), "expected_purchases"].sum()
    actual = redeems["coupon_id"].isin(keep).sum()
    assert actual > 30 and 0.75 * expected <= actual <= 1.25 * expected, (actual, expected)
    assert len(redeems) <= 1.15 * truth["expected_purchases"].sum()


def test_oracle_coupon_answers(small_world: dict[str, Any]) -> None:
    oracle = Oracle.load(small_world["dir"] / "truth")
    user, product = "s11u0000010", "s11p000005"
    effects = [oracle.coupon_effect(user, product, c) for c in (0.0, 5.0, 20.0)]
    assert effects[0] == 0 and 0 < effects[1] < effects[2]
    base = oracle.purchase_probability(user, product, live=True)
    assert abs(oracle.purchase_probability(user, product, live=True, coupon=20.0) - base - effects[2]) < 1e-12
    claim = oracle.coupon_claim_probability(user, product, 10.0)
    assert oracle.purchase_probability(user, product, live=True, coupon=10.0) < claim < 1
