"""Uplift-ranked audiences learn from a past campaign's holdout who it persuades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from liveloop.campaigns import audiences, engine
from liveloop.campaigns.engine import CampaignSpec
from liveloop.campaigns.policies import Policy
from liveloop.core.errors import InsufficientData
from liveloop.privacy import consent

T0 = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)


def test_an_uplift_audience_picks_the_persuadable_not_the_sure_things(wh) -> None:
    rng = np.random.default_rng(0)
    n = 800
    ids = [f"u{i:04d}" for i in range(n)]
    kind = rng.integers(0, 3, n)  # 0 persuadable, 1 sure thing, 2 lost cause
    wh.append("users", pa.table({"user_id": ids}))
    wh.sql(
        "INSERT INTO profiles (user_id, features, data_window, model_version) "
        "SELECT unnest(?::VARCHAR[]), json_object('kind', unnest(?::INTEGER[]), 'noise', "
        "unnest(?::DOUBLE[])), "
        "'w', 'v'",
        [ids, [int(k) for k in kind], list(rng.random(n))],
    )
    for at in range(0, n, consent.MAX_CHANGES):
        consent.record(
            wh,
            [consent.ConsentChange(u, "marketing", "granted", "in_app") for u in ids[at : at + 1000]],
            actor="t",
        )
    aud = audiences.create(wh, "all", audiences.AudienceSpec(users=tuple(ids)))
    spec = CampaignSpec(
        "test", aud["audience_id"], ("in_app",), "hi", holdout=0.5, policy=Policy(quiet_start=0, quiet_end=0)
    )
    c = engine.create(wh, spec, actor="m")
    engine.approve(wh, c["campaign_id"], actor="a")
    engine.launch(wh, c["campaign_id"], actor="a", now=T0)
    grp = dict(wh.sql("SELECT user_id, grp FROM messages"))
    p = np.where(kind == 1, 0.6, 0.05) + np.where(
        (kind == 0) & np.array([grp[u] == "treatment" for u in ids]), 0.5, 0
    )
    buyers = [u for u, q in zip(ids, p, strict=True) if rng.random() < q]
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"b-{u}" for u in buyers],
                "ts": pa.array([T0 + timedelta(hours=6)] * len(buyers), pa.timestamp("us", tz="UTC")),
                "user_id": buyers,
                "type": ["purchase"] * len(buyers),
            }
        ),
    )
    chosen = audiences.user_ids(wh, audiences.AudienceSpec(uplift_of=c["campaign_id"], size=150))
    share = np.mean([kind[ids.index(u)] == 0 for u in chosen])
    assert len(chosen) > 50 and share > 0.8  # a third of users are persuadable
    small = audiences.create(wh, "few", audiences.AudienceSpec(users=tuple(ids[:30])))
    c2 = engine.create(
        wh, CampaignSpec("few", small["audience_id"], ("in_app",), "hi", holdout=0.5), actor="m"
    )
    with pytest.raises(InsufficientData) as err:
        audiences.user_ids(wh, audiences.AudienceSpec(uplift_of=c2["campaign_id"]))
    assert err.value.field == "uplift_of"
