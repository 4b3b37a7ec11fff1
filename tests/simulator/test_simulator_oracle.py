"""The oracle knows the truth of the world the data came from, and the data agree with it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import Oracle, phrases


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
    assert set(comments["intent"]) == set(phrases.INTENTS)  # every intent occurs
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
