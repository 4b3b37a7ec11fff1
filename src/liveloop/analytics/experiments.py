"""Experiment results: the KPI registry's metrics per exposed user, analysed by :mod:`liveloop.experiments`.

Each metric of the registry is a ratio of measures (or one measure); per user, from the user's first
exposure on, the numerator and denominator measures become the unit's ``(num, den)``; the users with no
activity count as zeros. The same measures in the ``pre_days`` before each user's first exposure are
CUPED's covariate. Goal metrics' p-values are corrected for the number of metrics × arms (Holm by
default); a guardrail whose interval lies wholly on its bad side stops that arm (its users are served
the control from then on, and still analysed in their own arm).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from liveloop.analytics.experiment_table2 import strategy_table
from liveloop.analytics.kpis import METRICS, measures
from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.experiments import stats, store
from liveloop.experiments.store import Experiment, ExperimentSpec
from liveloop.warehouse import Warehouse

#: Looks shown on the sequential chart (cumulative data up to each look).
MAX_LOOKS = 14
#: Users a baseline for power needs.
MIN_BASELINE_USERS = 30


def create(wh: Warehouse, data: dict[str, Any], *, actor: str | None = None) -> Experiment:
    """Validate a definition (metrics from the KPI registry) and start it."""
    return store.create(wh, ExperimentSpec.from_dict(data), actor=actor, known_metrics=METRICS)


def _exposed(wh: Warehouse, exp: Experiment, until: datetime | None = None) -> tuple[np.ndarray, np.ndarray]:
    cond, params = ("AND ts < ?", [until]) if until else ("", [])
    rows = wh.sql(
        f"SELECT user_id, arm FROM exposures WHERE experiment_id = ? {cond} ORDER BY user_id",
        [exp.experiment_id, *params],
    )
    users = np.array([r[0] for r in rows], dtype=object)
    arms = np.array([r[1] for r in rows], dtype=object)
    return users, arms


def _per_user(
    wh: Warehouse, exp: Experiment, users: np.ndarray, names: set[str], *, pre: bool, until: datetime | None
) -> dict[str, np.ndarray]:
    """Each measure in ``names`` per user (aligned with ``users``; 0 where the user did nothing)."""
    window = (exp.experiment_id, int(exp.settings.get("pre_days", 0))) if pre else (exp.experiment_id, None)
    per = measures(wh, "user", end=until, need=names, exposure=window)
    index = {u: i for i, u in enumerate(users)}
    out = {n: np.zeros(len(users)) for n in names}
    for user, values in per.items():
        i = index.get(user)
        if i is None:
            continue
        for n in names:
            out[n][i] = values.get(n, 0.0)
    return out


def _units(
    metric: str, values: dict[str, np.ndarray], mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    m = METRICS[metric]
    num = values[m.numerator][mask]
    return num, (values[m.denominator][mask] if m.denominator else None)


def _analyse(
    exp: Experiment,
    metric: str,
    arms: np.ndarray,
    post: dict[str, np.ndarray],
    pre: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    names = [a.name for a in exp.arms]
    data = {a: _units(metric, post, arms == a) for a in names}
    covariates = None
    if pre is not None:
        m = METRICS[metric]
        if pre[m.numerator].any():
            covariates = {a: _units(metric, pre, arms == a) for a in names}
    est, theta = stats.estimates(data, covariates)
    control = est[0]
    sequential = bool(exp.settings.get("sequential", True))
    alpha = float(exp.settings.get("alpha", stats.ALPHA))
    effects = [stats.compare(control, e, alpha=alpha, sequential=sequential) for e in est[1:]]
    reduction = None
    if theta is not None:
        raw = sum(e.variance_raw for e in est)
        reduction = 1 - sum(e.variance for e in est) / raw if raw > 0 else None
    m = METRICS[metric]
    return {
        "metric": metric,
        "name_en": m.name_en,
        "name_zh": m.name_zh,
        "unit": m.unit,
        "higher_is_better": m.higher_is_better,
        "arms": [e.to_dict() for e in est],
        "effects": [e.to_dict() for e in effects],
        "cuped": {
            "theta": None if theta is None else round(theta, 6),
            "variance_reduction": reduction and round(reduction, 4),
        },
    }


def _harm(row: dict[str, Any], effect: dict[str, Any]) -> bool:
    lo, hi = effect["ci95"]
    if lo is None or hi is None:
        return False
    return bool(hi < 0) if row["higher_is_better"] else bool(lo > 0)


def results(
    wh: Warehouse,
    experiment_id: str,
    *,
    act: bool = True,
    history: bool = False,
    actor: str | None = "engine",
) -> dict[str, Any]:
    """Every metric and guardrail of the experiment against its control, the SRM check, and (``act``)
    the guardrails' decisions applied; ``history`` adds the first metric's effect at each look."""
    exp = store.get(wh, experiment_id)
    users, arms = _exposed(wh, exp)
    if len(users) == 0:
        raise InsufficientData(
            f"experiment {experiment_id} has no exposures yet: assign users (POST /v1/experiments/"
            f"{experiment_id}/assign) or serve its target first",
            field="experiment_id",
        )
    counts = {a.name: int((arms == a.name).sum()) for a in exp.arms}
    srm = stats.srm(counts, exp.weights)
    keys = [*exp.metrics, *[g for g in exp.guardrails if g not in exp.metrics]]
    names = {x for k in keys for x in (METRICS[k].numerator, METRICS[k].denominator) if x}
    post = _per_user(wh, exp, users, names, pre=False, until=None)
    pre = _per_user(wh, exp, users, names, pre=True, until=None) if exp.settings.get("pre_days") else None
    rows = {k: _analyse(exp, k, arms, post, pre) for k in keys}

    goal = [(k, i) for k in exp.metrics for i in range(len(exp.arms) - 1)]
    adjusted = stats.adjust(
        [rows[k]["effects"][i]["p_value"] for k, i in goal], exp.settings.get("correction", "holm")
    )
    alpha = float(exp.settings.get("alpha", stats.ALPHA))
    for (k, i), p in zip(goal, adjusted, strict=True):
        eff = rows[k]["effects"][i]
        eff["p_adjusted"] = round(p, 6)
        eff["significant"] = p < alpha
    breaches = []
    for g in exp.guardrails:
        for eff in rows[g]["effects"]:
            eff["harm"] = _harm(rows[g], eff)
            if eff["harm"]:
                breaches.append({"arm": eff["arm"], "guardrail": g})
    if act and exp.status == "running":
        for b in breaches:
            if b["arm"] not in exp.stopped_arms:
                exp = store.stop_arm(
                    wh,
                    experiment_id,
                    b["arm"],
                    f"guardrail {b['guardrail']} is worse than control",
                    actor=actor,
                )
    out: dict[str, Any] = {
        "experiment": exp.to_dict(),
        "computed_at": datetime.now(UTC).isoformat(),
        "users": counts,
        "srm": srm,
        "warnings": (
            [
                f"sample-ratio mismatch (p = {srm['p_value']:.2g}): the arms did not get the traffic they "
                "were given, so no effect below can be trusted until the cause is found"
            ]
            if srm["mismatch"]
            else []
        ),
        "metrics": [rows[k] for k in exp.metrics],
        "guardrails": [rows[g] for g in exp.guardrails],
        "guardrail_breaches": breaches,
    }
    if exp.target == "recommend":  # the reference study's Table 2, on this experiment's traffic
        out["table2"] = strategy_table(wh, exp)
    if history:
        out["history"] = looks(wh, exp)
    return out


def looks(wh: Warehouse, exp: Experiment) -> list[dict[str, Any]]:
    """The first metric's effects on the data as it stood at up to :data:`MAX_LOOKS` evenly spaced
    moments since the experiment started: the sequential boundary over time."""
    first = wh.sql("SELECT min(ts), max(ts) FROM exposures WHERE experiment_id = ?", [exp.experiment_id])[0]
    if first[0] is None:
        return []
    start = first[0]
    end = exp.stopped_at or datetime.now(UTC)
    end = max(end, first[1])
    span = (end - start) / MAX_LOOKS
    metric = exp.metrics[0]
    m = METRICS[metric]
    names = {x for x in (m.numerator, m.denominator) if x}
    out = []
    for i in range(1, MAX_LOOKS + 1):
        at = start + span * i + (timedelta(microseconds=1) if i == MAX_LOOKS else timedelta(0))
        users, arms = _exposed(wh, exp, until=at)
        if len(users) < 2 or len({*arms}) < 2:
            continue
        post = _per_user(wh, exp, users, names, pre=False, until=at)
        row = _analyse(exp, metric, arms, post, None)
        out.append({"at": at.isoformat(), "users": len(users), "effects": row["effects"]})
    return out


def power(
    wh: Warehouse,
    metric: str,
    *,
    users_per_day: float,
    days: int,
    arms: int = 2,
    alpha: float = stats.ALPHA,
    power: float = 0.8,
    sequential: bool = True,
    effect: float | None = None,
    baseline_days: int = 28,
) -> dict[str, Any]:
    """Before launch: the metric's per-user mean and variance among the users active in the last
    ``baseline_days``, the minimum detectable relative effect for the planned traffic, and (``effect``)
    the users and days a relative effect of that size needs."""
    if metric not in METRICS:
        raise ValidationFailed(f"unknown metric {metric!r}; known: {', '.join(METRICS)}", field="metric")
    if not users_per_day > 0:
        raise ValidationFailed("users_per_day must be above 0", field="users_per_day")
    if not isinstance(days, int) or days < 1:
        raise ValidationFailed("days must be a whole number of at least 1", field="days")
    if not isinstance(arms, int) or arms < 2:
        raise ValidationFailed("an experiment has at least two arms", field="arms")
    if effect is not None and not 0 < effect < 10:
        raise ValidationFailed("effect is a relative change above 0 (0.05 = 5%)", field="effect")
    last = wh.sql("SELECT greatest((SELECT max(ts) FROM events), (SELECT max(ts) FROM orders))")[0][0]
    last = last or datetime.now(UTC)
    m = METRICS[metric]
    names = {x for x in (m.numerator, m.denominator) if x}
    per = measures(
        wh, "user", start=last - timedelta(days=baseline_days), end=last + timedelta(seconds=1), need=names
    )
    per.pop(None, None)
    if len(per) < MIN_BASELINE_USERS:
        raise InsufficientData(
            f"{len(per)} users were active in the last {baseline_days} days; "
            f"power needs {MIN_BASELINE_USERS}",
            field="metric",
        )
    num = np.array([v.get(m.numerator, 0.0) for v in per.values()])
    den = np.array([v.get(m.denominator, 0.0) for v in per.values()]) if m.denominator else None
    mean, lin = stats.linearise(num, den)
    variance = float(lin.var(ddof=1))
    per_arm = users_per_day * days / arms
    mde = stats.mde(mean, variance, per_arm, alpha=alpha, power=power, sequential=sequential)
    out: dict[str, Any] = {
        "metric": metric,
        "baseline": {
            "users": len(per),
            "days": baseline_days,
            "mean": round(mean, 6),
            "sd": round(variance**0.5, 6),
        },
        "users_per_arm": int(per_arm),
        "days": days,
        "alpha": alpha,
        "power": power,
        "sequential": sequential,
        "mde_relative": None if mde is None else round(mde, 4),
    }
    if effect is not None:
        need = stats.users_needed(mean, variance, effect, alpha=alpha, power=power, sequential=sequential)
        out["effect"] = effect
        out["users_per_arm_needed"] = need
        out["days_needed"] = None if need is None else int(np.ceil(need * arms / users_per_day))
    return out
