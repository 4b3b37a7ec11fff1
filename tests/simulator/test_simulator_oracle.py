"""The oracle knows the truth of the world the data came from, and the data agree with it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.types import COMMENT_INTENTS
from liveloop.datasets.simulator import Oracle


@pytest.fixture(scope="module")
def oracle(small_world: dict[str, Any]) -> Oracle:
    return Oracle.load(small_world["dir"] / "truth")


def test_off_live_purchases_match_oracle_expectation(small_world: dict[str, Any], oracle: Oracle) -> None:
    ev = pd.read_parquet(
        small_world["dir"] / "events.parquet", columns=["ts", "user_id", "type", "session_id", "product_id"]
    )
    off = ev[ev["session_id"].isna()]
    views = off[off["type"] == "view"]
    t0 = pd.Timestamp(small_world["cfg"].start.isoformat(), tz="Asia/Shanghai")
    day = ((views["ts"] - t0).dt.total_seconds() // 86_400).astype(int)
    expected = sum(
        float(
            np.sum(
                oracle.purchase_probability(g["user_id"].to_numpy(), g["product_id"].to_numpy(), day=int(d))
            )
        )
        for d, g in views.groupby(day)
    )
    actual = int((off["type"] == "purchase").sum())
    assert actual > 300
    # stock-outs can only remove purchases, so actual may sit a little under the expectation
    assert 0.8 * expected <= actual <= 1.1 * expected, (actual, expected)


def test_prices_and_elasticities(oracle: Oracle) -> None:
    product = "s11p000005"
    user = "s11u0000010"
    probs = [oracle.purchase_probability(user, product, price) for price in (20.0, 40.0, 80.0)]
    assert probs[0] > probs[1] > probs[2]
    assert oracle.elasticity(user, product) < 0
    # the documented closed form equals the numerical d log P / d log price
    for price in (30.0, 60.0):
        h = 1e-4
        up = oracle.purchase_probability(user, product, price * np.exp(h))
        down = oracle.purchase_probability(user, product, price * np.exp(-h))
        numeric = (np.log(up) - np.log(down)) / (2 * h)
        assert abs(oracle.elasticity(user, product, price) - numeric) < 1e-4
    by_segment = {
        s: oracle.segment_elasticity(s, product) for s in ("bargain_hunter", "mainstream", "premium")
    }
    assert by_segment["bargain_hunter"] < by_segment["mainstream"] < by_segment["premium"] < 0
    best = oracle.optimal_price(product)
    cost = oracle.world.products.cost[5]
    assert best["price"] > cost and best["expected_profit_per_view"] > 0


def test_relevance_follows_latent_preferences(oracle: Oracle) -> None:
    users = oracle.world.users
    products = oracle.world.products
    u = int(np.argmax(users.pref[:, 0]))  # the user who most likes category 0
    liked = np.flatnonzero(products.category == 0)[:20]
    other = np.flatnonzero(products.category == int(np.argmin(users.pref[u])))[:20]
    uid = f"s11u{u:07d}"
    rel = lambda items: np.mean([oracle.relevance(uid, f"s11p{j:06d}") for j in items])  # noqa: E731
    assert rel(liked) > rel(other)


def test_message_uplift_by_type(oracle: Oracle) -> None:
    types = np.array([oracle.uplift_type(f"s11u{i:07d}") for i in range(400)])
    ids = np.array([f"s11u{i:07d}" for i in range(400)], dtype=object)
    lift = oracle.uplift(ids, "app_push", 20)
    assert np.all(lift[types == "persuadable"] > 0)
    assert np.all(lift[types == "do_not_disturb"] < 0)
    assert np.allclose(lift[(types == "sure_thing") | (types == "lost_cause")], 0)
    sure = ids[types == "sure_thing"]
    assert oracle.message_response(sure[0], "sms", 20, treated=False) > 0.3
    drawn = oracle.sample_message_responses(ids, "app_push", 20, treated=True, seed=1)
    assert drawn.dtype == bool and 0 < drawn.mean() < 0.5


def test_randomised_campaign_recovers_true_uplift(oracle: Oracle) -> None:
    exp = oracle.randomised_campaign(channel="app_push", hour=20, seed=3)
    assert len(exp) == oracle.world.users.n and 0.4 < exp["treated"].mean() < 0.6
    observed = exp.loc[exp["treated"], "responded"].mean() - exp.loc[~exp["treated"], "responded"].mean()
    assert abs(observed - exp["true_uplift"].mean()) < 0.03  # difference in means estimates the true ATE
    by_type = exp.groupby("true_type")["true_uplift"].mean()
    assert by_type["persuadable"] > 0 > by_type["do_not_disturb"]


def test_bad_questions_are_refused(oracle: Oracle) -> None:
    with pytest.raises(NotFound):
        oracle.relevance("someone_else", "s11p000001")
    with pytest.raises(ValidationFailed):
        oracle.message_response("s11u0000001", "carrier_pigeon", 20)
    with pytest.raises(ValidationFailed):
        oracle.purchase_probability("s11u0000001", "s11p000001", -5.0)


def test_comment_labels_agree_with_text(small_world: dict[str, Any]) -> None:
    root = small_world["dir"]
    comments = pd.read_parquet(root / "comments.parquet").merge(
        pd.read_parquet(root / "truth" / "comment_labels.parquet"), on="comment_id"
    )
    assert set(comments["intent"]) == set(COMMENT_INTENTS)  # every intent occurs
    numbered = comments[comments["text"].str.contains("号链接") & comments["product_mention"].notna()]
    assert len(numbered) > 20
    slots = numbered["text"].str.extract(r"(\d+)号链接")[0].astype(int)
    assert (slots == numbered["slot_position"]).all()
    sessions = pd.read_parquet(root / "live_sessions.parquet").set_index("session_id")
    lineups = sessions["lineup"].map(json.loads)
    mention_ok = [
        lineups[s][k - 1] == p
        for s, k, p in zip(
            numbered["session_id"], numbered["slot_position"], numbered["product_mention"], strict=True
        )
    ]
    assert all(mention_ok)
    assert set(comments["lang"]) >= {"zh", "en", "mixed"}
    negative = comments[comments["sentiment"] == "negative"]["intent"].unique().tolist()
    assert negative == ["complaint"]


def _documented_utility(
    root: Any, oracle: Oracle, users: np.ndarray, product: int, price: float, **live: Any
):
    """The utility of docs/simulator.md recomputed from the truth and training tables alone (day 0)."""
    ut = pd.read_parquet(root / "truth" / "users_truth.parquet").iloc[users]
    pt = pd.read_parquet(root / "truth" / "products_truth.parquet").iloc[product]
    prod = pd.read_parquet(root / "products.parquet").iloc[product]
    p = oracle.world.config.params
    start = oracle.world.config.start
    month = start.month + (start.day - 1) / 31
    season = pt["season_amplitude"] * np.cos(2 * np.pi * (month - pt["season_peak_month"]) / 12)
    list_price = float(prod["price"])
    u = (
        p.a0
        + p.w_pref * np.log(8 * ut[f"pref_{prod['category']}"].to_numpy())
        + p.w_quality * pt["quality"]
        + season
        - ut["price_beta"].to_numpy() * np.log(price / list_price)
        + p.g_discount * (1 - price / list_price)
        + p.g_coupon * live.get("coupon", 0.0) / list_price
    )
    if live:
        u = (
            u
            + p.live_bonus
            + p.impulse_weight * ut["impulsiveness"].to_numpy()
            - p.attention_decay * live["position"]
        )
    return u


def test_expected_purchases_follow_the_documented_utility(
    small_world: dict[str, Any], oracle: Oracle
) -> None:
    root = small_world["dir"]
    p = oracle.world.config.params
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    users = np.arange(0, 2000, 7)
    ids = np.array([f"s11u{i:07d}" for i in users], dtype=object)
    product, list_price = "s11p000005", float(oracle.world.products.price[5])
    for price, live in (
        (list_price, {}),
        (0.8 * list_price, {}),
        (0.9 * list_price, {"coupon": 5.0, "position": 3}),
    ):
        u = _documented_utility(root, oracle, users, 5, price, **live)
        documented = sig(u + p.c_cart) * sig(u + p.c_buy_given_cart)
        got = oracle.expected_purchases(
            ids, np.full(len(ids), product, dtype=object), price, views=2.0, live=bool(live), **live
        )
        assert np.allclose(got, 2.0 * documented, rtol=1e-9, atol=0)
    # monotone decreasing in price for every user, at the rate of their segment's true elasticity
    grid = list_price * np.array([0.5, 0.7, 0.9, 1.0, 1.2, 1.5])
    curves = np.array(
        [oracle.expected_purchases(ids, np.full(len(ids), product, dtype=object), g) for g in grid]
    )
    assert (np.diff(curves, axis=0) < 0).all()
    segments = np.array([oracle.user_segment(i) for i in ids])
    h = 0.01
    for name in ("bargain_hunter", "mainstream", "premium"):
        members = ids[segments == name]
        prods = np.full(len(members), product, dtype=object)
        up = oracle.expected_purchases(members, prods, list_price * np.exp(h))
        down = oracle.expected_purchases(members, prods, list_price * np.exp(-h))
        numeric = np.mean((np.log(up) - np.log(down)) / (2 * h))
        everyone = oracle.segment_elasticity(name, product, list_price)
        assert abs(numeric - everyone) < 0.15, (name, numeric, everyone)  # a sample of the segment


def test_segment_elasticities_match_the_documented_figures(oracle: Oracle) -> None:
    # docs/simulator.md: averaged over products, about -3.9, -2.8 and -1.9
    products = [f"s11p{j:06d}" for j in range(0, 300, 15)]
    for name, documented in (("bargain_hunter", -3.9), ("mainstream", -2.8), ("premium", -1.9)):
        mean = np.mean([oracle.segment_elasticity(name, j) for j in products])
        assert abs(mean - documented) < 0.25, (name, mean)


def test_message_response_by_type_hour_and_channel(small_world: dict[str, Any], oracle: Oracle) -> None:
    truth = pd.read_parquet(small_world["dir"] / "truth" / "users_truth.parquet")
    ids = truth["user_id"].to_numpy(dtype=object)
    kind = truth["uplift_type"].to_numpy()
    base = {"persuadable": 0.03, "sure_thing": 0.35, "lost_cause": 0.01, "do_not_disturb": 0.12}
    assert set(kind) == set(base)
    for channel in ("app_push", "sms", "email", "social"):
        for hour in (3, 9, 13, 20, 21, 23):
            treated = oracle.message_response(ids, channel, hour, treated=True)
            control = oracle.message_response(ids, channel, hour, treated=False)
            assert np.allclose(control, [base[k] for k in kind])
            same = np.isin(kind, ["sure_thing", "lost_cause"])
            assert np.allclose(treated[same], control[same])  # a message changes nothing for them
            dnd = kind == "do_not_disturb"
            assert np.allclose(treated[dnd], 0.25 * 0.12)  # ... and puts these off
            # persuadables: base + lift * min(1, 4 * channel_pref * exp(-d(h, peak)^2 / 18)), halved 22-08
            pers = kind == "persuadable"
            gap = np.abs((hour - truth["peak_hour_local"].to_numpy() + 12) % 24 - 12)
            fit = np.minimum(1, 4 * truth[f"channel_pref_{channel}"].to_numpy() * np.exp(-(gap**2) / 18))
            quiet = 0.5 if hour >= 22 or hour < 8 else 1.0
            documented = 0.03 + truth["message_lift"].to_numpy() * fit * quiet
            assert np.allclose(treated[pers], documented[pers])
    # a persuadable answers best near their peak hour on their favourite channel
    u = int(np.flatnonzero(kind == "persuadable")[0])
    row = truth.iloc[u]
    best = max(("app_push", "sms", "email", "social"), key=lambda c: row[f"channel_pref_{c}"])
    worst = min(("app_push", "sms", "email", "social"), key=lambda c: row[f"channel_pref_{c}"])
    peak = round(row["peak_hour_local"]) % 24
    off_peak = (peak + 12) % 24
    uid = ids[u]
    assert oracle.uplift(uid, best, peak) > oracle.uplift(uid, best, off_peak)
    assert oracle.uplift(uid, best, peak) >= oracle.uplift(uid, worst, peak)
    # drawn responses agree with the probabilities, type by type
    exp = oracle.randomised_campaign(channel=best, hour=peak, seed=5)
    for name in ("sure_thing", "do_not_disturb"):
        group = exp[exp["true_type"] == name]
        for treated, rate in (
            (False, base[name]),
            (True, base[name] * (0.25 if name == "do_not_disturb" else 1)),
        ):
            drawn = group.loc[group["treated"] == treated, "responded"]
            assert abs(drawn.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / len(drawn)) + 1e-9, (
                name,
                treated,
            )
