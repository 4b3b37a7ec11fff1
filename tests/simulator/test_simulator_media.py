"""Paid media in a simulated world: off unless asked for (the world is drawn as before), flighted spend
written as an ad platform reports it, and traffic lifted by the documented curves."""

from __future__ import annotations

import numpy as np
import pytest

from liveloop.core.curves import adstock, hill
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import media, simulate_into_warehouse
from liveloop.datasets.simulator.config import MEDIA_CHANNELS, SimConfig
from liveloop.datasets.simulator.oracle import Oracle
from liveloop.datasets.simulator.run import generate
from liveloop.datasets.simulator.world import build_world
from liveloop.warehouse import Warehouse


def test_curves_follow_their_closed_forms() -> None:
    level = adstock(np.full(200, 10.0), 0.6)
    assert level[0] == 10.0 and level[1] == pytest.approx(16.0) and level[-1] == pytest.approx(25.0)
    both = adstock(np.array([[1.0, 0.0, 0.0], [2.0, 2.0, 0.0]]), np.array([0.5, 0.0]))
    assert both.tolist() == [[1.0, 0.5, 0.25], [2.0, 2.0, 0.0]]
    assert hill(np.array([0.0, 2.0, -1.0]), 2.0, 3.0).tolist() == [0.0, 0.5, 0.0]
    assert hill(np.array([4.0]), 2.0, 1.0)[0] == pytest.approx(2 / 3)


def test_media_is_off_unless_asked_for() -> None:
    cfg = SimConfig.preset("tiny", seed=3)
    world = build_world(cfg)
    assert world.media_spend.size == 0 and world.media_lift.size == 0
    assert [world.day_factor(d) for d in range(cfg.days)] == [
        build_world(cfg).day_factor(d) for d in range(cfg.days)
    ]
    assert all("ad_spend" not in chunk for _, chunk in generate(cfg, world))
    assert Oracle(world).media_curves() == []
    with pytest.raises(ValidationFailed) as bad:
        SimConfig.preset("tiny", media_budget=-1)
    assert bad.value.field == "media_budget"


def test_flighted_spend_lifts_traffic_by_the_documented_curves(tmp_path) -> None:
    cfg = SimConfig.preset("small", seed=5, users=1500, days=28, media_budget=400)
    world = build_world(cfg)
    spend = world.media_spend
    assert spend.shape == (len(MEDIA_CHANNELS), 28) and (spend >= 0).all()
    weeks = spend.reshape(len(MEDIA_CHANNELS), 4, 7).mean(axis=2)
    assert len(np.unique(np.round(weeks / media.mean_spend(cfg)[:, None] * 2) / 2)) >= 3  # flighted
    # the lift is the documented sum of adstocked, saturated channel effects
    level = adstock(spend, media.DECAY) * (1 - media.DECAY)[:, None] / media.mean_spend(cfg)[:, None]
    expected = (media.BETA[:, None] * hill(level, media.HALF[:, None], media.SHAPE[:, None])).sum(axis=0)
    assert np.allclose(world.media_lift, expected)
    plain = build_world(SimConfig.preset("small", seed=5, users=1500, days=28))
    assert [world.day_factor(d) for d in range(28)] == pytest.approx(
        [plain.day_factor(d) * (1 + world.media_lift[d]) for d in range(28)]
    )
    truth = Oracle(world).media_curves()
    assert [c["channel"] for c in truth] == list(media.NAMES)
    steady = Oracle(world).media_lift(media.mean_spend(cfg))
    assert steady == pytest.approx(media.BETA * hill(np.ones(4), media.HALF, media.SHAPE))

    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        with_media = simulate_into_warehouse(wh, config=cfg)
        assert with_media["imports"]["ad_spend"]["loaded"] == 4 * 28
        rows = wh.sql("SELECT channel, sum(spend) FROM ad_spend GROUP BY 1 ORDER BY 1")
        assert dict(rows) == pytest.approx(dict(zip(media.NAMES, spend.sum(axis=1), strict=True)), abs=0.05)
        again = simulate_into_warehouse(wh, config=cfg)
        assert again["imports"]["ad_spend"]["loaded"] == 0  # nothing twice
    finally:
        wh.close()
    views = sum(int((c["events"]["type"].to_numpy() == "view").sum()) for d, c in generate(cfg) if d >= 0)
    base = sum(
        int((c["events"]["type"].to_numpy() == "view").sum()) for d, c in generate(plain.config) if d >= 0
    )
    lift = views / base - 1
    assert lift == pytest.approx(float(world.media_lift.mean()), abs=0.03)
