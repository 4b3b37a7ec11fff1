"""Experiment statistics (``liveloop.experiments.stats``): error rates, power, CUPED, SRM, and two real
randomised experiments re-estimated. Every figure comes with the figure it should be compared with.

1. **A/A false positives and A/B power under peeking.** ``BENCH_EXPERIMENTS_TESTS`` simulated tests
   (default 2,000) of 6,000 users each. Each user lands in treatment with probability 1/2, arrives on a
   uniformly drawn day 1..14, and spends ``0`` with probability 0.9, else a lognormal amount
   (``log`` mean 4.0, sd 1.2: mean 112, median 55, a long right tail), like per-user GMV. A user's
   spend is counted in full at every look after their arrival (a fixed attribution window that has
   closed). Each test is analysed with ``estimates`` and ``compare`` at each daily look, on the users
   who arrived so far: fixed-horizon Welch looked at once on day 14, the same test peeked daily
   (stopped at the first ``p < 0.05``), and the sequential test (``compare(..., sequential=True)``)
   once and daily. In the A/B the treated users buy more often: the buying rate is raised by the
   fixed test's 80%-power minimum detectable effect from ``mde`` (computed from the spend
   distribution's true per-user mean and variance), so the fixed test should show about 80% power.
2. **CUPED.** (a) Simulated: each user has a weekly order rate ``lambda ~ Gamma(shape, mean 0.1)`` and a
   typical basket ``v ~ lognormal(3.5, 0.6)``; orders in the pre-period (``pre_weeks`` weeks) and in
   the 2-week experiment are Poisson, each order worth ``v * lognormal(-0.125, 0.5)`` (mean ``v``).
   Treatment multiplies the in-experiment rate by 1.25. "strong": shape 0.1, 8 pre-weeks; "weak":
   shape 0.25, 4 pre-weeks. Variance of the effect with and without CUPED from ``estimates`` (with
   the pre-period spend as covariate vs without), and the empirical variance of the estimated effect
   over the simulated experiments beside it; CUPED's A/A false-positive rate. (b) Hillstrom:
   ``history`` (past-year spend) as covariate of ``spend`` and ``visit``, women's e-mail vs none.
3. **SRM.** Users per arm drawn binomially from the true split; share flagged by ``srm`` (p < 0.001)
   beside the exact rate of the chi-square test (non-central chi-square).
4. **Hillstrom** e-mail test (``hillstrom_email``): women's and men's e-mail vs no e-mail on visit
   (published: 10.6% -> 15.1% for women's), conversion and spend, fixed and sequential, Holm-adjusted.
5. **Artea** coupon test (``artea_coupon_experiment``, treatment ``test_coupon``): ``trans_after``,
   ``revenue_after`` and revenue per transaction (a ratio metric), fixed, sequential and CUPED (with
   ``num_past_purch``); SRM and covariate balance.

Environment: ``BENCH_EXPERIMENTS_TESTS`` (simulated tests per scenario in part 1, 2000),
``BENCH_EXPERIMENTS_CUPED`` (simulated experiments per CUPED scenario, 1000).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from benchmarks.machine import machine
from liveloop.datasets.loader import load
from liveloop.experiments.stats import (
    ALPHA,
    SRM_P,
    ArmEstimate,
    adjust,
    compare,
    estimates,
    mde,
    sequential_halfwidth,
    srm,
)

#: What ``estimates`` takes: per arm, the per-user numerator and denominator (None: a mean per user).
Arms = dict[str, tuple[np.ndarray, np.ndarray | None]]

SEED = 20250601
TESTS = int(os.environ.get("BENCH_EXPERIMENTS_TESTS", "2000"))
CUPED_EXPERIMENTS = int(os.environ.get("BENCH_EXPERIMENTS_CUPED", "1000"))

# Part 1: per-user GMV in a test.
USERS = 6000
DAYS = 14
P_BUY = 0.10
LOG_MU, LOG_SIGMA = 4.0, 1.2
POWER = 0.8

# Part 2: CUPED population.
CUPED_USERS = 6000
CUPED_RATE = 0.1  # mean weekly orders per user
CUPED_WEEKS = 2
CUPED_LIFT = 1.25
CUPED_SCENARIOS = {"strong": (0.1, 8), "weak": (0.25, 4)}  # gamma shape, pre-period weeks

# Part 3: SRM (true treatment share, users, simulated experiments).
SRM_CASES = [
    (0.500, 100_000, 20_000),
    (0.505, 100_000, 4_000),
    (0.510, 100_000, 4_000),
    (0.505, 20_000, 4_000),
    (0.520, 20_000, 4_000),
    (0.505, 1_000_000, 4_000),
]

BOOTSTRAP = 2000  # resamples for the Artea ratio metric's bootstrap interval

HILLSTROM_PUBLISHED = {"No E-Mail": 0.106, "Womens E-Mail": 0.151}  # visit rates, Hillstrom (2008)


# --------------------------------------------------------------------------------------------- helpers
def _rate(hits: Any) -> dict[str, Any]:
    """Share of True with its Wilson 95% interval."""
    hits = np.asarray(hits)
    n = int(hits.size)
    k = int(np.count_nonzero(hits))
    z = float(sps.norm.ppf(0.975))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"rate": p, "hits": k, "n": n, "ci95": [max(0.0, centre - half), min(1.0, centre + half)]}


def _pct(r: dict[str, Any], digits: int = 1) -> str:
    return f"{100 * r['rate']:.{digits}f}% [{100 * r['ci95'][0]:.{digits}f}, {100 * r['ci95'][1]:.{digits}f}]"


def _spend_moments() -> tuple[float, float]:
    """True per-user mean and variance of the part-1 spend (zero-inflated lognormal)."""
    m1 = math.exp(LOG_MU + LOG_SIGMA**2 / 2)
    m2 = math.exp(2 * LOG_MU + 2 * LOG_SIGMA**2)
    mean = P_BUY * m1
    return mean, P_BUY * m2 - mean**2


# ------------------------------------------------------------------------------ part 1: A/A and A/B
def _gmv_test(rng: np.random.Generator, p_treated: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    treated = rng.random(USERS) < 0.5
    day = rng.integers(1, DAYS + 1, USERS)
    buys = rng.random(USERS) < np.where(treated, p_treated, P_BUY)
    spend = np.where(buys, rng.lognormal(LOG_MU, LOG_SIGMA, USERS), 0.0)
    return treated, day, spend


def _looks(treated: np.ndarray, day: np.ndarray, spend: np.ndarray) -> dict[str, np.ndarray]:
    """Fixed and sequential comparisons at each daily look (users who arrived by that day)."""
    days = np.arange(1, DAYS + 1)
    arms = {}
    for name, mask in (("control", ~treated), ("treatment", treated)):
        order = np.argsort(day[mask], kind="stable")
        values = spend[mask][order]
        arms[name] = (values, np.searchsorted(day[mask][order], days, side="right"))
    out = {k: np.empty(DAYS) for k in ("p_fixed", "p_seq", "d", "lo_fixed", "hi_fixed", "lo_seq", "hi_seq")}
    for i in range(DAYS):
        est, _ = estimates({a: (v[: cut[i]], None) for a, (v, cut) in arms.items()})
        fixed = compare(est[0], est[1])
        seq = compare(est[0], est[1], sequential=True)
        out["p_fixed"][i], out["p_seq"][i], out["d"][i] = fixed.p_value, seq.p_value, fixed.absolute
        out["lo_fixed"][i], out["hi_fixed"][i] = fixed.ci
        out["lo_seq"][i], out["hi_seq"][i] = seq.ci
    return out


def _peeking_scenario(stream: int, p_treated: float, truth: float) -> dict[str, Any]:
    runs = [_looks(*_gmv_test(np.random.default_rng([SEED, stream, i]), p_treated)) for i in range(TESTS)]
    p_fixed = np.array([r["p_fixed"] for r in runs])
    p_seq = np.array([r["p_seq"] for r in runs])
    sig_fixed, sig_seq = p_fixed < ALPHA, p_seq < ALPHA

    def first_day(sig: np.ndarray) -> float | None:
        hit = sig.any(axis=1)
        return float(np.argmax(sig[hit], axis=1).mean() + 1) if hit.any() else None

    lo_seq = np.array([r["lo_seq"] for r in runs])
    hi_seq = np.array([r["hi_seq"] for r in runs])
    lo_fixed = np.array([r["lo_fixed"][-1] for r in runs])
    hi_fixed = np.array([r["hi_fixed"][-1] for r in runs])
    return {
        "tests": TESTS,
        "fixed_once": _rate(sig_fixed[:, -1]),
        "fixed_peeked": _rate(sig_fixed.any(axis=1)),
        "sequential_once": _rate(sig_seq[:, -1]),
        "sequential_peeked": _rate(sig_seq.any(axis=1)),
        "mean_stop_day": {"fixed_peeked": first_day(sig_fixed), "sequential_peeked": first_day(sig_seq)},
        "truth": truth,
        "mean_estimate": float(np.mean([r["d"][-1] for r in runs])),
        "coverage_fixed_day14": _rate((lo_fixed <= truth) & (truth <= hi_fixed)),
        "coverage_sequential_all_looks": _rate(((lo_seq <= truth) & (truth <= hi_seq)).all(axis=1)),
        "mean_halfwidth_day14": {
            "fixed": float(np.mean(hi_fixed - lo_fixed) / 2),
            "sequential": float(np.mean(hi_seq[:, -1] - lo_seq[:, -1]) / 2),
        },
    }


def peeking() -> dict[str, Any]:
    mean, var = _spend_moments()
    lift = mde(mean, var, USERS / 2, power=POWER)
    lift_seq = mde(mean, var, USERS / 2, power=POWER, sequential=True)
    assert lift is not None and lift_seq is not None
    m1 = math.exp(LOG_MU + LOG_SIGMA**2 / 2)
    p_treated = P_BUY * (1 + lift)
    truth = (p_treated - P_BUY) * m1
    # Power predicted by the normal approximation at the final look, with the treated arm's own variance.
    var_t = p_treated * math.exp(2 * LOG_MU + 2 * LOG_SIGMA**2) - (p_treated * m1) ** 2
    se = math.sqrt((var + var_t) / (USERS / 2))
    z = float(sps.norm.ppf(1 - ALPHA / 2))
    predicted = {
        "fixed_once": float(sps.norm.sf(z - truth / se)),
        "sequential_once": float(sps.norm.sf((sequential_halfwidth(se**2, USERS) - truth) / se)),
    }
    t0 = time.perf_counter()
    aa = _peeking_scenario(1, P_BUY, 0.0)
    ab = _peeking_scenario(2, p_treated, truth)
    return {
        "users_per_test": USERS,
        "days": DAYS,
        "p_buy": P_BUY,
        "lognormal": [LOG_MU, LOG_SIGMA],
        "per_user_mean": mean,
        "per_user_sd": math.sqrt(var),
        "ab_relative_lift": lift,
        "sequential_mde_at_day14": lift_seq,
        "ab_power_predicted": predicted,
        "aa": aa,
        "ab": ab,
        "seconds": round(time.perf_counter() - t0, 1),
    }


# ------------------------------------------------------------------------------------ part 2: CUPED
def _orders_value(rng: np.random.Generator, orders: np.ndarray, basket: np.ndarray) -> np.ndarray:
    total = np.zeros(orders.size)
    for j in range(int(orders.max(initial=0))):
        total += (orders > j) * basket * rng.lognormal(-0.125, 0.5, orders.size)
    return total


def cuped_population(
    rng: np.random.Generator, users: int, shape: float, pre_weeks: int, lift: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(treated, pre-period spend, in-experiment spend)`` of one simulated experiment."""
    rate = rng.gamma(shape, CUPED_RATE / shape, users)
    basket = rng.lognormal(3.5, 0.6, users)
    treated = rng.random(users) < 0.5
    pre = _orders_value(rng, rng.poisson(rate * pre_weeks), basket)
    post = _orders_value(rng, rng.poisson(rate * CUPED_WEEKS * np.where(treated, lift, 1.0)), basket)
    return treated, pre, post


def _cuped_runs(stream: int, shape: float, pre_weeks: int, lift: float) -> dict[str, Any]:
    d_raw, d_adj, v_raw, v_adj, p_raw, p_adj, corr = [], [], [], [], [], [], []
    for i in range(CUPED_EXPERIMENTS):
        rng = np.random.default_rng([SEED, stream, i])
        treated, pre, post = cuped_population(rng, CUPED_USERS, shape, pre_weeks, lift)
        arms: Arms = {"control": (post[~treated], None), "treatment": (post[treated], None)}
        cov: Arms = {"control": (pre[~treated], None), "treatment": (pre[treated], None)}
        plain, _ = estimates(arms)
        cuped, _theta = estimates(arms, cov)
        d_raw.append(plain[1].value - plain[0].value)
        d_adj.append(cuped[1].adjusted - cuped[0].adjusted)
        v_raw.append(plain[0].variance + plain[1].variance)
        v_adj.append(cuped[0].variance + cuped[1].variance)
        p_raw.append(compare(plain[0], plain[1]).p_value)
        p_adj.append(compare(cuped[0], cuped[1]).p_value)
        corr.append(float(np.corrcoef(pre, post)[0, 1]))
    dr, da = np.array(d_raw), np.array(d_adj)
    return {
        "experiments": CUPED_EXPERIMENTS,
        "pre_post_correlation": float(np.mean(corr)),
        "reported_variance": {"without": float(np.mean(v_raw)), "cuped": float(np.mean(v_adj))},
        "reported_reduction": 1 - float(np.mean(v_adj) / np.mean(v_raw)),
        "empirical_variance": {"without": float(dr.var(ddof=1)), "cuped": float(da.var(ddof=1))},
        "empirical_reduction": 1 - float(da.var(ddof=1) / dr.var(ddof=1)),
        "mean_effect": {"without": float(dr.mean()), "cuped": float(da.mean())},
        "significant": {"without": _rate(np.array(p_raw) < ALPHA), "cuped": _rate(np.array(p_adj) < ALPHA)},
    }


def cuped_simulated() -> dict[str, Any]:
    out: dict[str, Any] = {}
    truth = CUPED_RATE * CUPED_WEEKS * (CUPED_LIFT - 1) * math.exp(3.5 + 0.6**2 / 2)
    t0 = time.perf_counter()
    for k, (name, (shape, weeks)) in enumerate(CUPED_SCENARIOS.items()):
        out[name] = {"gamma_shape": shape, "pre_weeks": weeks, "truth": truth}
        out[name]["ab"] = _cuped_runs(10 + k, shape, weeks, CUPED_LIFT)
        if name == "strong":
            out[name]["aa"] = _cuped_runs(20 + k, shape, weeks, 1.0)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# -------------------------------------------------------------------------------- real experiments
def _cuped_diff(control: ArmEstimate, arm: ArmEstimate) -> dict[str, Any]:
    return {
        "variance_without": control.variance_raw + arm.variance_raw,
        "variance_cuped": control.variance + arm.variance,
        "reduction": 1 - (control.variance + arm.variance) / (control.variance_raw + arm.variance_raw),
    }


def analyse(
    frame: pd.DataFrame,
    arm_col: str,
    control: Any,
    arm: Any,
    outcome: str,
    *,
    den: str | None = None,
    covariate: str | None = None,
) -> dict[str, Any]:
    """One metric, ``arm`` against ``control``: means, fixed and sequential effects, CUPED if asked."""
    parts = {label: frame[frame[arm_col] == label] for label in (control, arm)}
    arms: Arms = {
        str(label): (p[outcome].to_numpy(float), None if den is None else p[den].to_numpy(float))
        for label, p in parts.items()
    }
    est, _ = estimates(arms)
    row: dict[str, Any] = {
        "metric": outcome if den is None else f"{outcome} / {den}",
        "control": str(control),
        "arm": str(arm),
        "users": [e.n for e in est],
        "values": [e.value for e in est],
        "fixed": compare(est[0], est[1]).to_dict(),
        "sequential": compare(est[0], est[1], sequential=True).to_dict(),
    }
    if covariate is not None:
        cov: Arms = {str(label): (p[covariate].to_numpy(float), None) for label, p in parts.items()}
        cest, theta = estimates(arms, cov)
        row["cuped"] = {
            "covariate": covariate,
            "theta": theta,
            "fixed": compare(cest[0], cest[1]).to_dict(),
            "sequential": compare(cest[0], cest[1], sequential=True).to_dict(),
            **_cuped_diff(cest[0], cest[1]),
        }
    return row


def hillstrom() -> dict[str, Any]:
    d = load("hillstrom_email")["hillstrom.csv"]
    counts = d["segment"].value_counts().to_dict()
    check = srm({k: int(v) for k, v in counts.items()}, dict.fromkeys(counts, 1 / 3))
    rows = [
        analyse(d, "segment", "No E-Mail", arm, metric, covariate="history")
        for metric in ("visit", "conversion", "spend")
        for arm in ("Womens E-Mail", "Mens E-Mail")
    ]
    holm = adjust([r["fixed"]["p_value"] for r in rows], "holm")
    for r, p in zip(rows, holm, strict=True):
        r["p_holm"] = p
    return {"rows": len(d), "srm": check, "published_visit": HILLSTROM_PUBLISHED, "effects": rows}


def artea() -> dict[str, Any]:
    a = load("artea_coupon_experiment")["artea-a_b-experiment.csv"]
    counts = a["test_coupon"].value_counts().to_dict()
    check = srm({str(k): int(v) for k, v in counts.items()}, {"0": 0.5, "1": 0.5})
    rows = [
        analyse(a, "test_coupon", 0, 1, "trans_after", covariate="num_past_purch"),
        analyse(a, "test_coupon", 0, 1, "revenue_after", covariate="num_past_purch"),
        analyse(a, "test_coupon", 0, 1, "revenue_after", den="trans_after"),
    ]
    balance_cols = [
        "num_past_purch",
        "spent_last_purchase",
        "weeks_since_visit",
        "browsing_minutes",
        "shopping_cart",
        "channel_acq",
        "id",
    ]
    balance = [analyse(a, "test_coupon", 0, 1, c)["fixed"] | {"covariate": c} for c in balance_cols]
    holm = adjust([b["p_value"] for b in balance], "holm")
    for b, p in zip(balance, holm, strict=True):
        b["p_holm"] = p
    # The delta method's interval of the ratio metric beside a bootstrap percentile interval.
    rng = np.random.default_rng([SEED, 40])
    parts = [a[a["test_coupon"] == k][["revenue_after", "trans_after"]].to_numpy(float) for k in (0, 1)]
    boot = []
    for _ in range(BOOTSTRAP):
        r = [p[rng.integers(0, len(p), len(p))].sum(axis=0) for p in parts]
        boot.append(r[1][0] / r[1][1] - r[0][0] / r[0][1])
    rows[2]["bootstrap_ci95"] = [float(x) for x in np.percentile(boot, [2.5, 97.5])]
    return {"rows": len(a), "srm": check, "effects": rows, "balance": balance}


# ------------------------------------------------------------------- CUPED on the market simulator
#: (preset, seed, days): the worlds the engine's CUPED is measured on (none was used to tune anything).
SIM_WORLDS = (("small", 7, 42), ("small", 8, 42), ("small", 21, 42), ("medium", 5, 28))
SIM_PRE_DAYS = 21


def cuped_market_simulator() -> list[dict[str, Any]]:
    """CUPED through the whole engine on liveloop's market simulator: every user active in the world is
    exposed on day ``days - 7`` (A/A, split by the engine's hashing); the metrics are the user's GMV,
    orders and buying in the last 7 days, the covariate the same metric over the ``SIM_PRE_DAYS`` before."""
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from liveloop.analytics import experiments as service
    from liveloop.core.config import Settings
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.experiments import store
    from liveloop.warehouse import Warehouse

    out = []
    for preset, seed, days in SIM_WORLDS:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            wh = Warehouse.open(Settings(home=Path(tmp) / "home"))
            try:
                users = 4_000 if preset == "medium" else None
                simulate_into_warehouse(wh, scale=preset, seed=seed, days=days, users=users)
                first = wh.sql("SELECT min(ts) FROM events")[0][0]
                at = first + timedelta(days=days - 7)
                exp = service.create(
                    wh,
                    {"name": "A/A", "arms": ["a", "b"], "metrics": ["gmv", "orders", "buyers"],
                     "pre_days": SIM_PRE_DAYS, "sequential": False},
                )  # fmt: skip
                active = [r[0] for r in wh.sql("SELECT DISTINCT user_id FROM events ORDER BY 1")]
                store.log_exposures(wh, [(exp.experiment_id, u, exp.place(u).arm or "", at) for u in active])
                res = service.results(wh, exp.experiment_id, act=False)
            finally:
                wh.close()
        out.append(
            {
                "preset": preset,
                "seed": seed,
                "days": days,
                "users": sum(res["users"].values()),
                "reduction": {m["metric"]: m["cuped"]["variance_reduction"] for m in res["metrics"]},
                "aa_significant": [m["metric"] for m in res["metrics"] if m["effects"][0]["significant"]],
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    return out


#: Real purchase logs: (data set, exposure day, pre-period weeks, experiment weeks).
REAL_LOGS = (("cdnow", "1997-07-01", 13, 4), ("online_retail_sample40k", "2011-09-01", 13, 4))


def _purchases(name: str) -> Any:
    import pandas as pd

    from liveloop.datasets.loader import load

    if name == "cdnow":
        d = load(name)["CDNOW_master.txt"]
        return pd.DataFrame(
            {
                "customer": d["customer_id"].astype(str),
                "ts": pd.to_datetime(d["date"].astype(str), format="%Y%m%d"),
                "spend": d["dollar_value"].astype(float),
            }
        )
    d = load(name)["online_retail_sample40k.csv.gz"].dropna(subset=["CustomerID"])
    return pd.DataFrame(
        {
            "customer": d["CustomerID"].astype(int).astype(str),
            "ts": pd.to_datetime(d["InvoiceDate"]),
            "spend": d["Quantity"].astype(float) * d["UnitPrice"].astype(float),
        }
    )


def cuped_real_logs() -> list[dict[str, Any]]:
    """CUPED on real purchase logs, as an A/A: every customer who bought before the exposure day is split
    by the engine's hash; the metric is spend in the experiment weeks, the covariate spend in the
    pre-period weeks. The variance reduction is what CUPED would give an experiment on these shops."""
    import pandas as pd

    from liveloop.experiments.assignment import cumulative, pick_arm

    out = []
    for name, day, pre_weeks, weeks in REAL_LOGS:
        d = _purchases(name)
        at = pd.Timestamp(day)
        customers = sorted(d.loc[d["ts"] < at, "customer"].unique())
        pre = (
            d[(d["ts"] >= at - pd.Timedelta(weeks=pre_weeks)) & (d["ts"] < at)]
            .groupby("customer")["spend"]
            .sum()
        )
        post = (
            d[(d["ts"] >= at) & (d["ts"] < at + pd.Timedelta(weeks=weeks))].groupby("customer")["spend"].sum()
        )
        x = pre.reindex(customers, fill_value=0.0).to_numpy()
        y = post.reindex(customers, fill_value=0.0).to_numpy()
        arm = np.array([pick_arm("bench-real", c, cumulative([1, 1])) for c in customers])
        data = {a: (y[arm == i], None) for i, a in enumerate(("a", "b"))}
        cov = {a: (x[arm == i], None) for i, a in enumerate(("a", "b"))}
        est, _ = estimates(data, cov)
        raw = sum(e.variance_raw for e in est)
        out.append(
            {
                "data": name,
                "exposure": day,
                "customers": len(customers),
                "buyers_in_experiment": int((y > 0).sum()),
                "pre_post_correlation": round(float(np.corrcoef(x, y)[0, 1]), 3),
                "reduction": round(1 - sum(e.variance for e in est) / raw, 4),
            }
        )
    return out


# ---------------------------------------------------------------------------------- at scale
SCALE_USERS = int(os.environ.get("BENCH_EXPERIMENTS_SCALE_USERS", "1000000"))


def results_at_scale(pre_days: int = 0) -> dict[str, Any]:
    """``results`` of an experiment with ``SCALE_USERS`` exposed users (two arms) and 0.4 orders per user
    (5% refunded) around the exposure: three metrics and a guardrail (CUPED with ``pre_days``), through
    the warehouse — beside pandas computing the first metric's per-user GMV and Welch's test (scipy)
    from the same rows (the same p-value without CUPED)."""
    import resource
    import tempfile
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

    from liveloop.analytics import experiments as service
    from liveloop.core.config import Settings
    from liveloop.warehouse import Warehouse

    rng = np.random.default_rng([SEED, 60])
    n = SCALE_USERS
    users = np.array([f"u{i}" for i in range(n)], dtype=object)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(Settings(home=Path(tmp) / "home"))
        try:
            exp = service.create(
                wh,
                {"name": "scale", "arms": ["a", "b"], "metrics": ["gmv", "orders", "aov"],
                 "guardrails": ["refund_rate"], "sequential": False, "pre_days": pre_days},
            )  # fmt: skip
            arms = np.where(rng.random(n) < 0.5, "a", "b")
            buyers = rng.random(n) < 0.2
            who = np.repeat(users[buyers], 2)
            k = len(who)
            ts = pa.array(
                [t0 + timedelta(days=int(d)) for d in rng.integers(-10, 10, k)], pa.timestamp("us", tz="UTC")
            )
            orders = pa.table(
                {
                    "order_id": [f"o{i}" for i in range(k)],
                    "user_id": who,
                    "ts": ts,
                    "status": np.where(rng.random(k) < 0.05, "refunded", "paid"),
                    "amount": rng.gamma(2.0, 50.0, k).round(2),
                }
            )
            exposures = pa.table(
                {"experiment_id": [exp.experiment_id] * n, "user_id": users, "arm": arms,
                 "ts": pa.array([t0] * n, pa.timestamp("us", tz="UTC"))}
            )  # fmt: skip
            with wh.transaction() as con:
                con.register("x", exposures)
                con.execute("INSERT INTO exposures SELECT * FROM x")
                con.unregister("x")
                con.register("o", orders)
                con.execute("INSERT INTO orders (order_id, user_id, ts, status, amount) SELECT * FROM o")
                con.unregister("o")
            started = time.perf_counter()
            res = service.results(wh, exp.experiment_id, act=False)
            seconds = time.perf_counter() - started
        finally:
            wh.close()
    started = time.perf_counter()
    o = orders.to_pandas()
    o = o[(o["status"] == "paid") & (o["ts"] >= pd.Timestamp(t0))]
    gmv = o.groupby("user_id")["amount"].sum().reindex(users, fill_value=0.0).to_numpy()
    welch = sps.ttest_ind(gmv[arms == "b"], gmv[arms == "a"], equal_var=False)
    pandas_seconds = time.perf_counter() - started
    eff = res["metrics"][0]["effects"][0]
    return {
        "users": n,
        "orders": k,
        "pre_days": pre_days,
        "seconds": round(seconds, 2),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "metrics": len(res["metrics"]) + len(res["guardrails"]),
        "pandas_one_metric_seconds": round(pandas_seconds, 2),
        "same_p_value": bool(abs(float(welch.pvalue) - eff["p_value"]) < 1e-4),
        "p_value": eff["p_value"],
        "pandas_p_value": round(float(welch.pvalue), 6),
    }


# ----------------------------------------------------------------------------------------- SRM
def srm_detection() -> list[dict[str, Any]]:
    rng = np.random.default_rng([SEED, 30])
    crit = float(sps.chi2.isf(SRM_P, 1))
    out = []
    for share, users, sims in SRM_CASES:
        treated = rng.binomial(users, share, sims)
        flagged = np.array(
            [srm({"c": users - t, "t": int(t)}, {"c": 0.5, "t": 0.5})["mismatch"] for t in treated]
        )
        nc = users * 4 * (share - 0.5) ** 2
        exact = float(sps.ncx2.sf(crit, 1, nc)) if nc > 0 else SRM_P
        out.append(
            {"share": share, "users": users, "simulations": sims, "flagged": _rate(flagged), "exact": exact}
        )
    return out


# ------------------------------------------------------------------------------------------ report
def _p(p: float) -> str:
    return "<1e-6" if p < 1e-6 else f"{p:.2g}"


def _effect_text(e: dict[str, Any], scale: float = 1.0, unit: str = "") -> str:
    lo, hi = e["ci95"]
    rel = e["ci95_relative"]
    rel_text = (
        "" if rel is None else f" ({100 * e['relative']:+.1f}% [{100 * rel[0]:+.1f}, {100 * rel[1]:+.1f}])"
    )
    return f"{scale * e['absolute']:+.3f}{unit} [{scale * lo:+.3f}, {scale * hi:+.3f}]{rel_text}"


def run() -> dict[str, Any]:
    started = time.perf_counter()
    print(f"machine: {machine()}")

    pk = peeking()
    print(
        f"\n1. peeking: {pk['aa']['tests']} tests x {USERS} users, {DAYS} daily looks, P(buy) {P_BUY}, "
        f"lognormal({LOG_MU}, {LOG_SIGMA}); per-user mean {pk['per_user_mean']:.2f}, sd "
        f"{pk['per_user_sd']:.1f}; A/B lift {100 * pk['ab_relative_lift']:.1f}% (fixed 80% MDE; the "
        f"sequential MDE at day 14 is {100 * pk['sequential_mde_at_day14']:.1f}%) [{pk['seconds']} s]"
    )
    print(f"{'analysis':<28} {'A/A false positives (goal)':<40} {'A/B power (predicted)':<30}")
    goals = {
        "fixed_once": "4-6%",
        "fixed_peeked": "well above 5%",
        "sequential_once": "<= 5%",
        "sequential_peeked": "<= ~5%",
    }
    for key, goal in goals.items():
        pred = pk["ab_power_predicted"].get(key)
        pred_text = "" if pred is None else f" ({100 * pred:.1f}%)"
        aa_text = f"{_pct(pk['aa'][key], 2)} ({goal})"
        print(f"{key:<28} {aa_text:<40} {_pct(pk['ab'][key], 2) + pred_text:<30}")
    ab = pk["ab"]
    print(
        f"A/B: mean first significant day fixed-peeked {ab['mean_stop_day']['fixed_peeked']:.1f}, "
        f"sequential-peeked {ab['mean_stop_day']['sequential_peeked']:.1f}; day-14 half-width fixed "
        f"{ab['mean_halfwidth_day14']['fixed']:.2f} vs sequential "
        f"{ab['mean_halfwidth_day14']['sequential']:.2f}; "
        f"coverage fixed day 14 {_pct(ab['coverage_fixed_day14'])}, sequential at all 14 looks "
        f"{_pct(ab['coverage_sequential_all_looks'])}; mean estimate {ab['mean_estimate']:.3f} vs truth "
        f"{ab['truth']:.3f}"
    )

    cs = cuped_simulated()
    print(
        f"\n2a. CUPED, simulated ({CUPED_EXPERIMENTS} experiments x {CUPED_USERS} users) [{cs['seconds']} s]"
    )
    for name in CUPED_SCENARIOS:
        s = cs[name]["ab"]
        print(
            f"{name:<7} corr(pre, post) {s['pre_post_correlation']:.3f}: variance reduction reported "
            f"{100 * s['reported_reduction']:.1f}%, empirical {100 * s['empirical_reduction']:.1f}% "
            f"(goal >= 30%); "
            f"mean effect {s['mean_effect']['without']:.3f} / CUPED {s['mean_effect']['cuped']:.3f} "
            f"(truth {cs[name]['truth']:.3f}); power {_pct(s['significant']['without'])} -> "
            f"{_pct(s['significant']['cuped'])}"
        )
    aa = cs["strong"]["aa"]
    print(
        f"strong A/A: false positives without {_pct(aa['significant']['without'])}, "
        f"CUPED {_pct(aa['significant']['cuped'])}"
    )

    ms = cuped_market_simulator()
    print(
        f"\n2c. CUPED through the engine on the market simulator (pre-period {SIM_PRE_DAYS} days, "
        "goal >= 30%)"
    )
    for w in ms:
        red = ", ".join(f"{k} -{100 * v:.1f}%" for k, v in w["reduction"].items() if v is not None)
        print(
            f"{w['preset']} seed {w['seed']} ({w['days']} days, {w['users']} users): variance {red}; "
            f"A/A significant: {w['aa_significant'] or 'none'} [{w['seconds']} s]"
        )

    rl = cuped_real_logs()
    print(
        "\n2d. CUPED on real purchase logs (A/A; spend in 4 weeks, covariate: spend in the 13 weeks before)"
    )
    for r in rl:
        print(
            f"{r['data']} from {r['exposure']}: {r['customers']:,} customers, {r['buyers_in_experiment']:,} "
            f"bought; corr(pre, post) {r['pre_post_correlation']:.3f}; variance -{100 * r['reduction']:.1f}%"
        )

    hs = hillstrom()
    print(
        f"\n2b/4. Hillstrom ({hs['rows']} rows; SRM p {hs['srm']['p_value']}, "
        f"mismatch {hs['srm']['mismatch']})"
    )
    for r in hs["effects"]:
        scale, unit = (100.0, "pp") if r["metric"] in ("visit", "conversion") else (1.0, "$")
        c = r["cuped"]
        print(
            f"{r['metric']:<10} {r['arm']:<14} {r['values'][0]:.4f} -> {r['values'][1]:.4f}: "
            f"fixed {_effect_text(r['fixed'], scale, unit)} p {_p(r['fixed']['p_value'])} "
            f"(Holm {_p(r['p_holm'])}); "
            f"sequential {_effect_text(r['sequential'], scale, unit)}; CUPED(history) "
            f"{_effect_text(c['fixed'], scale, unit)} variance -{100 * c['reduction']:.2f}%"
        )
    print(
        f"published visit: No E-Mail {HILLSTROM_PUBLISHED['No E-Mail']}, "
        f"Womens {HILLSTROM_PUBLISHED['Womens E-Mail']}"
    )

    sd = srm_detection()
    print("\n3. SRM (p < 0.001)")
    for s in sd:
        print(
            f"split {100 * s['share']:.1f}/{100 * (1 - s['share']):.1f}, {s['users']:>9,} users, "
            f"{s['simulations']:>6,} sims: flagged {_pct(s['flagged'], 2)} (exact {100 * s['exact']:.2f}%)"
        )

    ar = artea()
    print(f"\n5. Artea ({ar['rows']} rows; SRM p {ar['srm']['p_value']}, mismatch {ar['srm']['mismatch']})")
    for r in ar["effects"]:
        line = (
            f"{r['metric']:<28} {r['values'][0]:.4f} -> {r['values'][1]:.4f}: "
            f"fixed {_effect_text(r['fixed'])} "
            f"p {_p(r['fixed']['p_value'])}; sequential {_effect_text(r['sequential'])}"
        )
        if "cuped" in r:
            c = r["cuped"]
            line += (
                f"; CUPED(num_past_purch) {_effect_text(c['fixed'])} variance -{100 * c['reduction']:.1f}%"
            )
        if "bootstrap_ci95" in r:
            lo, hi = r["bootstrap_ci95"]
            line += f"; bootstrap ({BOOTSTRAP}) [{lo:+.3f}, {hi:+.3f}]"
        print(line)
    print(
        "balance (p, Holm): "
        + ", ".join(f"{b['covariate']} {b['p_value']:.3f} ({b['p_holm']:.3f})" for b in ar["balance"])
    )
    sc = results_at_scale()
    sc_cuped = results_at_scale(pre_days=14)
    print(
        f"\n6. results of a {sc['users']:,}-user experiment ({sc['orders']:,} orders; {sc['metrics']} "
        f"metrics): {sc['seconds']} s ({sc_cuped['seconds']} s with CUPED), peak RSS "
        f"{sc_cuped['peak_rss_mib']} MiB; pandas + scipy, one metric: {sc['pandas_one_metric_seconds']} s; "
        "same p-value: "
        f"{sc['same_p_value']} ({sc['p_value']} vs {sc['pandas_p_value']})"
    )
    total = round(time.perf_counter() - started, 1)
    print(f"\ntotal {total} s")
    return {
        "machine": machine(),
        "seed": SEED,
        "seconds": total,
        "peeking": pk,
        "cuped_simulated": cs,
        "cuped_market_simulator": ms,
        "cuped_real_logs": rl,
        "results_at_scale": sc,
        "results_at_scale_cuped": sc_cuped,
        "srm": sd,
        "hillstrom": hs,
        "artea": ar,
    }
