"""Features: no leakage past the cutoff, and profiles that still build on thin or odd data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from liveloop.profiles import BuildOptions, Window, build_features, build_profiles, user_profile
from liveloop.warehouse import Warehouse

CUTOFF = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.slow
def test_events_after_the_cutoff_do_not_change_features(shop: Warehouse) -> None:
    win = Window.ending(CUTOFF)
    before = build_features(shop, win)
    later = CUTOFF + timedelta(seconds=1)
    shop.append(
        "events",
        pa.table(
            {
                "event_id": ["late1", "late2", "late3"],
                "ts": [CUTOFF, later, later],
                "user_id": ["u001", "u002", "newcomer"],
                "type": ["purchase", "like", "view"],
                "category": ["beauty", None, "snacks"],
                "amount": pa.array([999.0, None, None], pa.float64()),
            }
        ),
    )
    shop.append(
        "orders",
        pa.table(
            {
                "order_id": ["late_o"],
                "user_id": ["u003"],
                "ts": [later],
                "amount": pa.array([500.0], pa.float64()),
            }
        ),
    )
    after = build_features(shop, win)
    pd.testing.assert_frame_equal(before, after)
    # the same rows do count once the cutoff moves past them
    moved = build_features(shop, Window.ending(later + timedelta(seconds=1)))
    assert moved.loc["u003", "frequency"] == before.loc["u003", "frequency"] + 1
    assert "newcomer" in moved.index and "newcomer" not in before.index


def test_features_reflect_the_behaviour_types(shop: Warehouse) -> None:
    f = build_features(shop, Window.ending(CUTOFF + timedelta(days=60)))
    kind = pd.Series([int(u[1:]) % 3 for u in f.index], index=f.index)
    by_kind = f.groupby(kind)[["monetary", "coupon_rate", "watch_minutes", "price_sensitivity"]].mean()
    assert by_kind.loc[0, "monetary"] > by_kind.loc[1, "monetary"] > by_kind.loc[2, "monetary"]
    assert by_kind.loc[1, "coupon_rate"] == 1.0 and by_kind.loc[0, "coupon_rate"] == 0.0
    assert by_kind.loc[1, "price_sensitivity"] > by_kind.loc[0, "price_sensitivity"]
    assert by_kind.loc[2, "watch_minutes"] > by_kind.loc[0, "watch_minutes"]
    hours = f[[f"h{h:02d}" for h in range(24)]].sum(axis=1)
    assert ((hours - 1).abs() < 1e-9).all()


def _odd_users(wh: Warehouse) -> None:
    money = pa.float64()
    wh.append(
        "users", pa.table({"user_id": ["registered_only", "refunder", "anon"], "gender": [None, None, None]})
    )
    wh.append(
        "events",
        pa.table(
            {
                "event_id": ["r1", "r2", "x1", "x2"],
                "ts": [datetime(2026, 1, 5, tzinfo=UTC)] * 4,
                "user_id": ["refunder", "refunder", "anon", "anon"],
                "type": ["refund", "refund", "view", "view"],
                "category": [None, None, "never-seen-category", None],
                "amount": pa.array([-20.0, -5.5, None, None], money),
            }
        ),
    )


def test_profiles_build_for_users_without_events_purchases_or_demographics(wh: Warehouse) -> None:
    _odd_users(wh)
    summary = build_profiles(wh, BuildOptions())
    assert summary["users"] == 3
    assert "insufficient data" in summary["notes"]["churn_clv"]
    assert "insufficient data" in summary["notes"]["segments"]
    refunder = user_profile(wh, "refunder")
    feats = {f["name"]: f["value"] for f in refunder["features"]}
    assert feats["frequency"] == 0 and feats["refunds"] == 2 and refunder["lifecycle"]["value"] == "prospect"
    assert all(s["explanation"].startswith("insufficient data") for s in refunder["scores"])
    anon = user_profile(wh, "anon")
    assert [t["tag"] for t in anon["tags"]] == ["category:never-seen-category"]
    assert user_profile(wh, "registered_only")["segment"] is None


@pytest.mark.slow
def test_one_user_and_an_empty_warehouse_still_build(wh: Warehouse) -> None:
    assert build_profiles(wh)["users"] == 0
    wh.append(
        "events",
        pa.table(
            {
                "event_id": ["a"],
                "ts": [datetime(2026, 1, 1, tzinfo=UTC)],
                "user_id": ["solo"],
                "type": ["view"],
            }
        ),
    )
    summary = build_profiles(wh)
    assert summary["users"] == 1 and summary["segments"] == 0
    assert user_profile(wh, "solo")["value_tier"]["value"] == "none"
