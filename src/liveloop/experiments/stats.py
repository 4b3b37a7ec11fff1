"""Experiment statistics: per-arm estimates of mean and ratio metrics, effects against control with fixed
or always-valid (sequential) intervals, CUPED, sample-ratio mismatch, multiple-comparison correction,
power and minimum detectable effect.

Every metric is a ratio of per-user sums ``sum(num) / sum(den)`` (``den`` all ones for a mean per user),
analysed by its linearisation (the delta method, Deng et al. 2018): ``L_i = (num_i - M den_i) / mean(den)``
has mean 0 and ``Var(M) ≈ var(L) / n``. CUPED (Deng et al. 2013) adjusts ``L`` by a pre-period
covariate with one pooled ``theta``; the sequential intervals are the asymptotic confidence sequences
of Howard et al. (2021), as GrowthBook's engine uses them, with its tuning parameter ``N* = 5000``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
#: GrowthBook's default: the sample size at which the confidence sequence is tightest.
SEQUENTIAL_TUNING = 5000
#: An SRM check fails below this p-value (GrowthBook and Statsig use 0.001).
SRM_P = 0.001
CORRECTIONS = ("holm", "bh", "none")


@dataclass(frozen=True)
class ArmEstimate:
    """One arm's metric: its users, the (CUPED-adjusted) value and the value's variance."""

    arm: str
    n: int
    value: float  # sum(num) / sum(den), unadjusted
    adjusted: float  # with CUPED where a covariate was given, else ``value``
    variance: float  # of ``adjusted``
    variance_raw: float  # of ``value`` (no CUPED), for the variance reduction

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "users": self.n,
            "value": _r(self.value),
            "adjusted": _r(self.adjusted),
            "se": _r(math.sqrt(max(self.variance, 0.0))),
        }


@dataclass(frozen=True)
class Effect:
    """An arm against control: absolute and relative difference, interval, p-value."""

    arm: str
    absolute: float
    relative: float | None
    ci: tuple[float, float]  # of the absolute difference
    ci_relative: tuple[float, float] | None
    p_value: float
    sequential: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "absolute": _r(self.absolute),
            "relative": _r(self.relative),
            "ci95": [_r(self.ci[0]), _r(self.ci[1])],
            "ci95_relative": None if self.ci_relative is None else [_r(x) for x in self.ci_relative],
            "p_value": _r(self.p_value),
            "sequential": self.sequential,
        }


def _r(x: float | None, digits: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def linearise(num: np.ndarray, den: np.ndarray | None) -> tuple[float, np.ndarray]:
    """``(M, L)``: the ratio of sums and each unit's linearised contribution (mean 0)."""
    num = np.asarray(num, dtype=float)
    if den is None:
        m = float(num.mean()) if num.size else math.nan
        return m, num - m
    den = np.asarray(den, dtype=float)
    mean_den = float(den.mean()) if den.size else 0.0
    if mean_den == 0:
        return math.nan, np.zeros_like(num)
    m = float(num.sum() / den.sum())
    return m, (num - m * den) / mean_den


def estimates(
    arms: dict[str, tuple[np.ndarray, np.ndarray | None]],
    covariates: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
) -> tuple[list[ArmEstimate], float | None]:
    """Per-arm estimates of one metric (arms in the given order) and CUPED's pooled ``theta`` (None
    without covariates). ``covariates`` holds the same metric's pre-period ``(num, den)`` per arm."""
    lin = {a: linearise(*nd) for a, nd in arms.items()}
    cov: dict[str, np.ndarray] = {}
    theta = None
    if covariates:
        pooled_num = np.concatenate([np.asarray(covariates[a][0], float) for a in arms])
        dens = [covariates[a][1] for a in arms]
        pooled_den = (
            None if any(d is None for d in dens) else np.concatenate([np.asarray(d, float) for d in dens])
        )
        pm, _ = linearise(pooled_num, pooled_den)
        for a in arms:
            cn, cd = covariates[a]
            cn = np.asarray(cn, float)
            if cd is None or pooled_den is None or not math.isfinite(pm):
                cov[a] = cn
            else:
                cd = np.asarray(cd, float)
                cov[a] = (cn - pm * cd) / max(float(pooled_den.mean()), 1e-12)
        sxy = sum(float((lin[a][1] * (cov[a] - cov[a].mean())).sum()) for a in arms)
        sxx = sum(float(((cov[a] - cov[a].mean()) ** 2).sum()) for a in arms)
        theta = sxy / sxx if sxx > 0 else 0.0
        grand = float(np.concatenate([cov[a] for a in arms]).mean())
    out = []
    for a, (m, L) in lin.items():
        n = len(L)
        var_raw = float(L.var(ddof=1)) / n if n > 1 else math.inf
        adj, var = m, var_raw
        if theta is not None:
            resid = L - theta * cov[a]
            adj = m - theta * (float(cov[a].mean()) - grand)
            var = float(resid.var(ddof=1)) / n if n > 1 else math.inf
        out.append(ArmEstimate(a, n, m, adj, var, var_raw))
    return out, theta


def sequential_rho(alpha: float = ALPHA, tuning: float = SEQUENTIAL_TUNING) -> float:
    """The mixing parameter that makes the confidence sequence tightest at ``tuning`` units."""
    la = -2 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1)) / tuning)


def sequential_halfwidth(
    variance: float, n_total: int, alpha: float = ALPHA, tuning: float = SEQUENTIAL_TUNING
) -> float:
    """Half-width of the (1 - alpha) asymptotic confidence sequence of an estimate with ``variance`` after
    ``n_total`` units (Howard et al. 2021, eq. 14; valid at every look)."""
    rho2 = sequential_rho(alpha, tuning) ** 2
    s2 = variance * n_total
    return math.sqrt(s2) * math.sqrt(
        2 * (n_total * rho2 + 1) / (n_total**2 * rho2) * math.log(math.sqrt(n_total * rho2 + 1) / alpha)
    )


def sequential_p(
    estimate: float, variance: float, n_total: int, alpha: float = ALPHA, tuning: float = SEQUENTIAL_TUNING
) -> float:
    """The always-valid p-value, with the sequence's mixing parameter fixed at ``alpha``: it is at most
    ``alpha`` exactly when that confidence sequence excludes 0."""
    if variance <= 0 or n_total <= 0:
        return 1.0
    rho2 = sequential_rho(alpha, tuning) ** 2
    s2 = variance * n_total
    k = n_total * rho2 + 1
    return float(min(1.0, math.sqrt(k) * math.exp(-(estimate**2) * n_total**2 * rho2 / (2 * s2 * k))))


def _welch_dof(a: ArmEstimate, b: ArmEstimate) -> float:
    va, vb = a.variance, b.variance
    den = (va**2 / (a.n - 1) if a.n > 1 else 0) + (vb**2 / (b.n - 1) if b.n > 1 else 0)
    return (va + vb) ** 2 / den if den > 0 else math.inf


def compare(
    control: ArmEstimate, arm: ArmEstimate, *, alpha: float = ALPHA, sequential: bool = False,
    tuning: float = SEQUENTIAL_TUNING,
) -> Effect:  # fmt: skip
    """``arm`` against ``control``: Welch's t (fixed horizon) or the confidence sequence (``sequential``)."""
    d = arm.adjusted - control.adjusted
    var = control.variance + arm.variance
    if not (math.isfinite(var) and var > 0):
        return Effect(arm.arm, d, None, (math.nan, math.nan), None, 1.0, sequential)
    m_a = control.adjusted
    rel = d / m_a if m_a else None
    n_total = control.n + arm.n
    if sequential:
        hw = sequential_halfwidth(var, n_total, alpha, tuning)
        p = sequential_p(d, var, n_total, alpha, tuning)
    else:
        dof = _welch_dof(control, arm)
        q = float(sps.t.ppf(1 - alpha / 2, dof)) if math.isfinite(dof) else float(sps.norm.ppf(1 - alpha / 2))
        hw = q * math.sqrt(var)
        t = d / math.sqrt(var)
        p = float(2 * (sps.t.sf(abs(t), dof) if math.isfinite(dof) else sps.norm.sf(abs(t))))
    ci_rel = fieller(control, arm, hw / math.sqrt(var)) if rel is not None else None
    return Effect(arm.arm, d, rel, (d - hw, d + hw), ci_rel, p, sequential)


def fieller(control: ArmEstimate, arm: ArmEstimate, q: float) -> tuple[float, float] | None:
    """The relative effect's interval by Fieller's theorem at multiplier ``q``: the lifts ``r`` for which
    ``arm - (1 + r) control`` is not rejected. At ``r = 0`` that is the absolute test itself, so the
    relative interval excludes 0 exactly when the absolute one does (a delta-method interval does not,
    and is symmetric where the ratio is skewed). None when the control's mean is not itself clear of
    zero at ``q`` (the interval is then unbounded)."""
    ma, mb, va, vb = control.adjusted, arm.adjusted, control.variance, arm.variance
    a = ma**2 - q**2 * va
    disc = (ma * mb) ** 2 - a * (mb**2 - q**2 * vb)
    if a <= 0 or disc < 0:
        return None
    root = math.sqrt(disc)
    lo, hi = sorted(((ma * mb - root) / a, (ma * mb + root) / a))
    return lo - 1, hi - 1


def srm(observed: dict[str, int], weights: dict[str, float]) -> dict[str, Any]:
    """Sample-ratio mismatch: chi-square of the users per arm against the allocation."""
    arms = list(weights)
    obs = np.array([observed.get(a, 0) for a in arms], dtype=float)
    total = obs.sum()
    w = np.array([weights[a] for a in arms], dtype=float)
    expected = total * w / w.sum()
    if total == 0 or len(arms) < 2:
        return {"p_value": 1.0, "mismatch": False, "observed": observed, "expected": {}}
    chi2 = float(((obs - expected) ** 2 / np.maximum(expected, 1e-12)).sum())
    p = float(sps.chi2.sf(chi2, len(arms) - 1))
    return {
        "p_value": _r(p, 8),
        "chi2": _r(chi2),
        "mismatch": p < SRM_P,
        "observed": {a: int(o) for a, o in zip(arms, obs, strict=True)},
        "expected": {a: round(float(e), 1) for a, e in zip(arms, expected, strict=True)},
    }


def adjust(p_values: list[float], method: str = "holm") -> list[float]:
    """Adjusted p-values: Holm–Bonferroni (family-wise error) or Benjamini–Hochberg (false discovery)."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}")
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m <= 1 or method == "none":
        return [float(x) for x in p]
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return [float(x) for x in out]


def mde(
    mean: float, variance: float, users_per_arm: float, *, alpha: float = ALPHA, power: float = 0.8,
    sequential: bool = False, tuning: float = SEQUENTIAL_TUNING,
) -> float | None:  # fmt: skip
    """Minimum detectable relative effect of a two-arm test with ``users_per_arm`` each, for a metric of
    per-user ``mean`` and ``variance`` (of the linearised value); with ``sequential``, the effect whose
    expected estimate clears the confidence sequence with the given power."""
    if users_per_arm < 2 or not mean or variance <= 0:
        return None
    se = math.sqrt(2 * variance / users_per_arm)
    z_power = float(sps.norm.ppf(power))
    if sequential:
        bar = sequential_halfwidth(se**2, int(2 * users_per_arm), alpha, tuning)
    else:
        bar = float(sps.norm.ppf(1 - alpha / 2)) * se
    return (bar + z_power * se) / abs(mean)


def users_needed(
    mean: float, variance: float, relative_effect: float, *, alpha: float = ALPHA, power: float = 0.8,
    sequential: bool = False,
) -> int | None:  # fmt: skip
    """Users per arm for :func:`mde` to reach ``relative_effect`` (bisection over the sample size)."""
    if relative_effect <= 0 or not mean or variance <= 0:
        return None
    lo, hi = 2, 2
    while (
        mde(mean, variance, hi, alpha=alpha, power=power, sequential=sequential) or math.inf
    ) > relative_effect:
        hi *= 2
        if hi > 10**12:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (
            mde(mean, variance, mid, alpha=alpha, power=power, sequential=sequential) or math.inf
        ) > relative_effect:
            lo = mid
        else:
            hi = mid
    return hi
