"""Uplift-ranked audiences: the users a campaign would persuade, not those who would buy anyway.

A past campaign with a random holdout is a randomised experiment: its treated and held-out users, their
profile features and whether they bought within its attribution window train a T-learner
(:class:`~liveloop.campaigns.uplift.UpliftModel`); every profiled user is then scored and the ``size``
with the highest positive estimated uplift form the audience.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveloop.campaigns.audiences import Resolved, fields
from liveloop.campaigns.engine import get, spec_of
from liveloop.campaigns.report import MEASURED
from liveloop.campaigns.uplift import UpliftModel
from liveloop.core.errors import InsufficientData
from liveloop.warehouse import Warehouse

MIN_PER_GROUP = 50


def _features(wh: Warehouse, names: list[str], where: str, params: list[Any]) -> tuple[list[str], np.ndarray]:
    cols = ", ".join(f"TRY_CAST(p.features->>'$.{n}' AS DOUBLE)" for n in names)
    rows = wh.sql(f"SELECT p.user_id, {cols} FROM profiles p {where}", params)
    return [r[0] for r in rows], np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), len(names))


def uplift_audience(wh: Warehouse, campaign_id: str, size: int, seed: int = 0) -> Resolved:
    """The ``size`` profiled users with the highest positive uplift estimated from ``campaign_id``."""
    spec = spec_of(get(wh, campaign_id))
    names = sorted(fields(wh).numeric)
    if not names:
        raise InsufficientData("no numeric profile features: build profiles first")
    outcome = dict(
        (u, (g == "treatment", b))
        for u, g, b in wh.sql(
            MEASURED + "SELECT user_id, grp, user_id IN (SELECT user_id FROM bought) FROM m",
            [campaign_id, spec.attribution_days],
        )
    )
    groups = [t for t, _ in outcome.values()]
    if min(sum(groups), len(groups) - sum(groups)) < MIN_PER_GROUP:
        raise InsufficientData(
            f"campaign {campaign_id} needs at least {MIN_PER_GROUP} treated and {MIN_PER_GROUP} "
            "held-out users "
            "to learn who it persuades",
            field="uplift_of",
        )
    ids, X = _features(wh, names, "WHERE list_contains(?::VARCHAR[], p.user_id)", [list(outcome)])
    treated = np.array([outcome[u][0] for u in ids], dtype=int)
    bought = np.array([outcome[u][1] for u in ids], dtype=int)
    model = UpliftModel(learner="t", seed=seed).fit(X, treated, bought)
    every, Xall = _features(wh, names, "", [])
    score = model.predict(Xall)
    order = [i for i in np.argsort(-score, kind="stable") if score[i] > 0][:size]
    return Resolved(
        "SELECT unnest(?::VARCHAR[]) AS user_id, unnest(?::DOUBLE[]) AS score",
        [[every[i] for i in order], [float(score[i]) for i in order]],
    )
