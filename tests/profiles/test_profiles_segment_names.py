"""Segments that mean what they say: names and descriptions from what sets a segment apart (never a
feature it has at zero), names its members' value tiers, lifecycle stages and buying bear out, top
categories over-represented in the segment and shown by name, spend unknown (not 0) without prices, no
channel data said as such. Checked on constructed segments, on the demo's simulated world and on the
real Taobao UserBehavior head (every check recomputes what it checks from the profiles table)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.profiles import build_profiles, list_segments
from liveloop.profiles.build import data_end
from liveloop.profiles.features import affinity
from liveloop.profiles.segments import (
    CATEGORY_NAMES,
    FEATURE_LABELS,
    describe_segment,
    name_segments,
    profile_segments,
)
from liveloop.profiles.tags import LifecycleRules
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

Members = pd.DataFrame
_BUYER_NAMES = {"high_value_loyal", "high_value", "loyal", "impulse", "price_sensitive", "active_buyers"}


def _share(m: Members, column: str, *values: str) -> float:
    return float(m[column].isin(values).mean())


def _more(m: Members, everyone: Members, *features: str) -> bool:
    """The segment's mean of any of ``features`` is above everyone's (and above zero)."""
    return any(f in m and m[f].mean() > max(everyone[f].mean(), 0.0) for f in features if m[f].notna().any())


def _buyers(m: Members) -> float:
    return float((m["frequency"] > 0).mean())


#: What each name claims, recomputed here from the members' profiles.
CLAIMS: dict[str, Callable[[Members, Members], bool]] = {
    "high_value_loyal": lambda m, e: (
        _share(m, "value_tier", "high") >= 0.5
        and _share(m, "lifecycle", "loyal", "active", "won_back") >= 0.5
    ),
    "high_value": lambda m, e: _share(m, "value_tier", "high") >= 0.5,
    "loyal": lambda m, e: _share(m, "lifecycle", "loyal") >= 0.5,
    "dormant": lambda m, e: _share(m, "lifecycle", "at_risk", "churned") >= 0.5,
    "new_customers": lambda m, e: _share(m, "lifecycle", "new") >= 0.5,
    "impulse": lambda m, e: _buyers(m) >= 0.5 and _more(m, e, "conversion_rate"),
    "price_sensitive": lambda m, e: _buyers(m) >= 0.5 and _more(m, e, "price_sensitivity", "coupon_rate"),
    "active_buyers": lambda m, e: _buyers(m) >= 0.5 and _more(m, e, "frequency"),
    "engaged_fans": lambda m, e: _more(m, e, "social_actions", "gift_amount"),
    "silent_viewers": lambda m, e: _more(m, e, "watch_minutes"),
    "window_shoppers": lambda m, e: _buyers(m) < 0.5 and _more(m, e, "carts", "favorites"),
    "explorers": lambda m, e: _more(m, e, "n_categories"),
    "light": lambda m, e: m["events"].mean() < e["events"].mean(),
}
_LABELS = {en: feature for feature, (_, en) in FEATURE_LABELS.items()}
_ITEM = re.compile(r"^(?P<label>.+) (?P<ratio>[0-9.e-]+)x average$")


def _members(wh: Warehouse) -> Members:
    rows = wh.sql("SELECT user_id, segment_id, value_tier, lifecycle, features FROM profiles")
    m = pd.DataFrame([json.loads(r[4]) for r in rows])
    m["user_id"], m["segment_id"] = [r[0] for r in rows], [r[1] for r in rows]
    m["value_tier"], m["lifecycle"] = [r[2] for r in rows], [r[3] for r in rows]
    return m


def _lifts(wh: Warehouse, members: Members) -> pd.DataFrame:
    """(segment_id, category) -> lift of the category in the segment's weighted interest, recomputed."""
    win = Window.ending(data_end(wh), None, "Asia/Shanghai")  # type: ignore[arg-type]
    aff = affinity(wh, win, "category").to_pyarrow().to_pandas()
    aff = aff.merge(members[["user_id", "segment_id"]], on="user_id")
    seg = aff.groupby(["segment_id", "category"])["score"].sum()
    share = seg / seg.groupby(level=0).transform("sum")
    everyone = aff.groupby("category")["score"].sum() / aff["score"].sum()
    return (share / everyone.reindex(share.index.get_level_values(1)).to_numpy()).rename("lift")


def check_segments(wh: Warehouse, priced: bool) -> list[dict[str, Any]]:
    """Every segment of ``wh`` means what it says; returns the segments."""
    segments = list_segments(wh)
    everyone = _members(wh)
    lifts = _lifts(wh, everyone)
    assert len(segments) >= 3 and sum(s["size"] for s in segments) == len(everyone)
    assert len({s["name_en"] for s in segments}) == len(segments)
    loyal_orders = LifecycleRules().loyal_orders
    too_many_for_new = everyone[(everyone["frequency"] >= loyal_orders) & (everyone["lifecycle"] == "new")]
    assert too_many_for_new.empty, f"{len(too_many_for_new)} users with {loyal_orders}+ purchases are 'new'"
    tops = []
    for s in segments:
        m, st, key = everyone[everyone["segment_id"] == s["segment_id"]], s["stats"], s["archetype"]
        where = f"{s['segment_id']} {s['name_en']} ({key}): {s['description']}"
        # the name: its claim holds for the members
        if key in CLAIMS:
            assert CLAIMS[key](m, everyone), where
        elif key.startswith("high_"):
            feature = key.removeprefix("high_")
            assert m[feature].mean() > 1.1 * everyone[feature].mean() > 0, where
        else:
            assert key.startswith("regular"), f"unknown name {key!r}: add its claim to CLAIMS"
        # the description: each named feature as its true multiple of the average, never one at zero
        traits = [t["feature"] for t in st["traits"]]
        main, _, stage_clause = s["description"].partition("; ")
        idle = re.fullmatch(r"(\d+)% without any activity in the window", main)
        if idle:  # said of a segment without a trait or shortfall, where most members did nothing
            assert not traits and int(idle[1]) == round(100 * (m["events"].fillna(0) <= 0).mean()), where
        named = [] if main == "close to the average user" or idle else main.split(", ")
        features = []
        for item in named:
            found = _ITEM.match(item)
            assert found, where
            feature = _LABELS[found["label"]]
            features.append(feature)
            mean, ratio = m[feature].mean(), m[feature].mean() / everyone[feature].mean()
            assert mean > 0, f"{where}: names {feature}, which the segment has at 0"
            assert abs(float(found["ratio"]) - ratio) <= max(0.051, 0.01 * ratio), (where, ratio)
            if traits:
                assert ratio > 1, f"{where}: a trait must be a positive difference"
            else:  # a shortfall: most members have some of it
                assert ratio < 1 and (m[feature] > 0).mean() >= 0.5, f"{where}: {feature} is mostly 0"
        if traits:
            assert features == traits[:3], where
        if stage_clause:
            stage = m["lifecycle"].value_counts(normalize=True)
            assert stage_clause.startswith(f"{stage.iloc[0]:.0%} "), (where, stage.to_dict())
        # spend and purchases as the members have them; spend unknown (not 0) without prices
        assert st["purchases_mean"] == pytest.approx(m["frequency"].mean())
        if priced:
            assert st["monetary_mean"] == pytest.approx(m["monetary"].mean())
            if key in _BUYER_NAMES:
                assert st["monetary_mean"] > 0, where
        else:
            assert st["monetary_mean"] is None and st["monetary_total"] is None, where
        if key in _BUYER_NAMES:
            assert st["purchases_mean"] > 0 and st["buyers_share"] >= 0.5, where
        # top categories: over-represented in the segment (lift >= 1), by name where one exists
        cats = st["top_categories"]
        assert cats, where
        for cat, lift in zip(cats, st["top_category_lift"], strict=True):
            assert lifts[(s["segment_id"], cat)] == pytest.approx(lift, abs=1e-3), where
        assert all(x >= 1.0 for x in st["top_category_lift"]), where
        assert st["top_category_lift"] == sorted(st["top_category_lift"], reverse=True), where
        expected_en = [CATEGORY_NAMES[c][1] if c in CATEGORY_NAMES else c for c in cats]
        assert st["top_category_names_en"] == expected_en and len(st["top_category_names_zh"]) == len(cats)
        tops.append(set(cats[:3]))
        # channels: none in these worlds (no messages sent), said as such
        assert st["channel_data"] is False and st["preferred_channels"] == [], where
    in_every = set.intersection(*tops)
    assert not in_every, f"{in_every} is a top category of every segment: not what sets any apart"
    return segments


@contextmanager
def _world(factory: pytest.TempPathFactory, load: Callable[[Warehouse], Any]) -> Iterator[Warehouse]:
    """A real warehouse in its own LIVELOOP_HOME with ``load``'s data and a full profile build."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVELOOP_HOME", str(Path(factory.mktemp("segments")) / "home"))
        mp.setenv("LIVELOOP_SECRET_KEY", generate_key())
        settings = Settings.from_env()
        with Warehouse.open(settings) as wh:
            load(wh)
            build_profiles(wh, settings=settings)
            yield wh


@pytest.mark.slow
def test_segments_of_the_demo_world_mean_what_they_say(tmp_path_factory: pytest.TempPathFactory) -> None:
    from liveloop.datasets.simulator import simulate_into_warehouse

    def load(wh: Warehouse) -> None:  # the world `liveloop demo` and `liveloop simulate` build
        simulate_into_warehouse(wh, scale="small", seed=7)

    with _world(tmp_path_factory, load) as wh:
        segments = check_segments(wh, priced=True)
        assert wh.sql("SELECT count(*) FROM messages")[0][0] == 0
        names = {n for s in segments for n in s["stats"]["top_category_names_en"]}
        assert names <= {en for _, en in CATEGORY_NAMES.values()}  # Beauty, not beauty
        loyal = wh.sql("SELECT count(*) FROM profiles WHERE lifecycle = 'loyal'")[0][0]
        assert loyal > 0  # the world's frequent buyers are loyal, not new


@pytest.mark.slow
def test_segments_of_taobao_mean_what_they_say(
    tmp_path_factory: pytest.TempPathFactory, data_home: Path
) -> None:
    from liveloop.profiles.realdata import load_into

    with _world(tmp_path_factory, lambda wh: load_into(wh, "taobao_userbehavior_head")) as wh:
        segments = check_segments(wh, priced=False)  # Taobao UserBehavior carries no prices
        assert any(s["archetype"] in _BUYER_NAMES for s in segments)


# --- constructed segments: the naming rules one at a time ------------------------------------------------


def _constructed(tiers_of_spenders: str = "low", stage_of_spenders: str = "new") -> dict[str, Any]:
    """Four groups of 50 users: big spenders (with the given value tier and stage for 80% of them),
    non-buyers who browse, users gone quiet (churned) and light users."""
    rng = np.random.default_rng(0)
    rows, tiers, stages, groups = [], [], [], []

    def add(group: str, n: int, tier: str, stage: str, **means: float) -> None:
        for i in range(n):
            row = {k: float(rng.poisson(v)) if v > 0 else 0.0 for k, v in means.items()}
            row["recency_days"] = float(rng.integers(1, 20)) if row["frequency"] > 0 else np.nan
            row["monetary"] = row["frequency"] * 120.0
            row["conversion_rate"] = row["frequency"] / max(row["views"] + row["carts"], 1.0)
            rows.append(row)
            tiers.append(tier if i < 0.8 * n else "medium")
            stages.append(stage if i < 0.8 * n else "active")
            groups.append(group)

    add("spenders", 50, tiers_of_spenders, stage_of_spenders, frequency=8, views=30, carts=6, events=60)
    add("browsers", 50, "none", "prospect", frequency=0, views=40, carts=1, events=45, n_categories=6)
    add("quiet", 50, "low", "churned", frequency=2, views=8, carts=1, events=10)
    add("light", 50, "none", "prospect", frequency=0, views=2, carts=0, events=3)
    features = pd.DataFrame(rows, index=[f"u{i}" for i in range(len(rows))]).fillna({"n_categories": 1})
    features["recency_days"] = features["recency_days"].where(features["frequency"] > 0)
    features.loc[features.index[100:150], "recency_days"] = 200.0
    index = features.index
    assigned = pd.Series(groups, index=index)
    profiles = profile_segments(
        features, assigned, pd.Series(tiers, index=index), pd.Series(stages, index=index)
    )
    return {"profiles": profiles, "names": {k: v.key for k, v in name_segments(profiles).items()}}


def test_a_name_needs_its_members_to_bear_it_out() -> None:
    low = _constructed("low", "new")
    assert low["names"]["spenders"] not in {"high_value_loyal", "high_value", "loyal"}  # 80% low tier, new
    high = _constructed("high", "loyal")
    assert high["names"]["spenders"] == "high_value_loyal"  # 80% high tier and loyal: now it may say so
    for world in (low, high):
        names = world["names"]
        assert names["quiet"] == "dormant"  # 80% churned
        assert names["browsers"] not in _BUYER_NAMES | {"dormant"}  # they never bought
        assert names["light"] not in _BUYER_NAMES | {"dormant"}
        assert len(set(names.values())) == 4


def test_descriptions_name_what_is_above_average_never_a_zero() -> None:
    profiles = _constructed()["profiles"]
    zh, en = describe_segment(profiles["browsers"])
    assert "categories" in en and "views" in en and "x average" in en
    for zero in ("purchases", "spend", "order value", "conversion", "days since last purchase"):
        assert zero not in en, en  # the browsers have these at zero (or not at all)
    assert en.endswith("; 80% prospect (no purchase yet)") and zh.endswith("；80%为潜在客户")
    _, light_en = describe_segment(profiles["light"])
    assert "purchases" not in light_en and "x average" in light_en  # below average, but not at zero
    for name, p in profiles.items():
        assert all(p.mean[c] > 0 and p.ratio[c] > 1 for c in p.traits), name
