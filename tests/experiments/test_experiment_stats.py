"""liveloop.experiments.stats against independent reference computations.

Every expected value below is computed another way than stats.py computes it: scipy's Welch t-test and
chi-square test, a bootstrap and the closed-form delta method for ratio metrics, an OLS regression (numpy
lstsq, classical and HC0 standard errors) for CUPED, brute-force definitions and Benjamini & Hochberg's
(1995) published example for the multiple-comparison corrections, the Howard et al. (2021) asymptotic
confidence sequence written out here, and the textbook two-sample normal power formula (statsmodels is not
installed in this project, so NormalIndPower and multipletests are replaced by their formulas).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from liveloop.experiments import stats as st

# --- helpers ----------------------------------------------------------------------------------------------


def _mean_arms(seed: int, n_c: int, n_t: int, sd_c: float, sd_t: float, lift: float):
    rng = np.random.default_rng(seed)
    c = rng.normal(10.0, sd_c, n_c)
    t = rng.normal(10.0 + lift, sd_t, n_t)
    return c, t


def _ratio_arm(rng: np.random.Generator, n: int, ctr: float):
    """Per-user page views (den, >= 1) and clicks on them (num): a click-through rate metric."""
    views = rng.poisson(rng.gamma(2.0, 2.5, n)) + 1
    clicks = rng.binomial(views, np.clip(rng.beta(2, 2 / ctr - 2, n), 0, 1))
    return clicks.astype(float), views.astype(float)


def howard_halfwidth(v: float, n: int, alpha: float = 0.05, n_star: float = 5000.0) -> float:
    """Howard et al. (2021) / Waudby-Smith et al. asymptotic confidence sequence, as in the brief:
    rho = sqrt((-2 ln a + ln(-2 ln a + 1)) / N*), halfwidth = sqrt(V N) sqrt(2(N rho^2 + 1) / (N^2 rho^2)
    ln(sqrt(N rho^2 + 1) / a)), V the variance of the estimate after N units."""
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_star)
    a = n * rho**2
    return math.sqrt(v * n) * math.sqrt(2 * (a + 1) / (n**2 * rho**2) * math.log(math.sqrt(a + 1) / alpha))


def holm_reference(p: list[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values by definition: max over j <= i of (m - j + 1) p_(j)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for rank, idx in enumerate(order, start=1):
        out[idx] = min(1.0, max((m - j + 1) * p[order[j - 1]] for j in range(1, rank + 1)))
    return out


def bh_reference(p: list[float]) -> list[float]:
    """Benjamini-Hochberg (1995) step-up adjusted p-values by definition: min over j >= i of m p_(j) / j."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for rank, idx in enumerate(order, start=1):
        out[idx] = min(1.0, min(m * p[order[j - 1]] / j for j in range(rank, m + 1)))
    return out


# --- fixed-horizon comparison of mean metrics: Welch ------------------------------------------------------


@pytest.mark.parametrize(
    "seed,n_c,n_t,sd_c,sd_t,lift",
    [
        (1, 400, 400, 3.0, 3.0, 0.5),
        (2, 250, 900, 2.0, 5.0, 0.3),
        (3, 30, 12, 1.0, 4.0, 1.5),
        (4, 5000, 4900, 8, 7, 0),
    ],
)
def test_compare_matches_scipy_welch(seed, n_c, n_t, sd_c, sd_t, lift):
    c, t = _mean_arms(seed, n_c, n_t, sd_c, sd_t, lift)
    for dens in (None, "ones"):  # a mean metric, given as den None or as den all ones
        arms = {
            "control": (c, None if dens is None else np.ones_like(c)),
            "treatment": (t, None if dens is None else np.ones_like(t)),
        }
        (ec, et), theta = st.estimates(arms)
        assert theta is None
        assert (ec.n, et.n) == (n_c, n_t)
        eff = st.compare(ec, et)
        ref = sps.ttest_ind(t, c, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert eff.absolute == pytest.approx(t.mean() - c.mean(), rel=1e-12, abs=1e-12)
        assert eff.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)
        assert eff.ci[0] == pytest.approx(ci.low, rel=1e-9, abs=1e-12)
        assert eff.ci[1] == pytest.approx(ci.high, rel=1e-9, abs=1e-12)
        assert eff.relative == pytest.approx((t.mean() - c.mean()) / c.mean(), rel=1e-12, abs=1e-12)
        assert eff.sequential is False
        # the per-arm standard error is the textbook s / sqrt(n)
        assert math.sqrt(et.variance) == pytest.approx(t.std(ddof=1) / math.sqrt(n_t), rel=1e-12)


def test_compare_alpha_changes_the_welch_interval():
    c, t = _mean_arms(7, 60, 80, 2.0, 3.0, 0.4)
    (ec, et), _ = st.estimates({"c": (c, None), "t": (t, None)})
    ci90 = sps.ttest_ind(t, c, equal_var=False).confidence_interval(0.90)
    eff = st.compare(ec, et, alpha=0.10)
    assert eff.ci == pytest.approx((ci90.low, ci90.high), rel=1e-9)


@pytest.mark.parametrize("sequential", [False, True])
def test_relative_interval_is_fiellers_and_agrees_with_the_absolute_test(sequential):
    c, t = _mean_arms(11, 2000, 2000, 3.0, 3.0, 0.4)
    (ec, et), _ = st.estimates({"c": (c, None), "t": (t, None)})
    eff = st.compare(ec, et, sequential=sequential)
    mc, mt = c.mean(), t.mean()
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    q = (eff.ci[1] - eff.ci[0]) / 2 / math.sqrt(vc + vt)
    assert eff.ci_relative is not None
    # Fieller: every ratio rho with (mt - rho mc)^2 <= q^2 (vt + rho^2 vc), written as a grid check
    rho = np.linspace(0.5, 2.0, 200_001)
    inside = rho[(mt - rho * mc) ** 2 <= q**2 * (vt + rho**2 * vc)]
    assert eff.ci_relative[0] == pytest.approx(inside.min() - 1, abs=2e-5)
    assert eff.ci_relative[1] == pytest.approx(inside.max() - 1, abs=2e-5)
    # near the delta-method interval when the control's mean is precise (CV 0.6%)
    se_rel = (mt / mc) * math.sqrt(vt / mt**2 + vc / mc**2)
    assert eff.ci_relative[0] == pytest.approx(mt / mc - 1 - q * se_rel, abs=0.002)


def test_relative_interval_excludes_zero_exactly_when_the_absolute_one_does():
    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(20, 400))
        c = rng.exponential(1.0, n) * (rng.random(n) < 0.2)
        t = rng.exponential(1.0 + rng.uniform(-0.5, 3.0), n) * (rng.random(n) < 0.2)
        (ec, et), _ = st.estimates({"c": (c, None), "t": (t, None)})
        for sequential in (False, True):
            eff = st.compare(ec, et, sequential=sequential)
            if eff.ci_relative is None:  # the control's own mean is not clear of zero: unbounded
                continue
            assert (eff.ci[0] > 0) == (eff.ci_relative[0] > 0)
            assert (eff.ci[1] < 0) == (eff.ci_relative[1] < 0)


# --- ratio metrics: delta method ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [5, 6])
def test_ratio_delta_variance_matches_bootstrap_and_closed_form(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    num, den = _ratio_arm(rng, n, 0.12)
    num2, den2 = _ratio_arm(rng, n, 0.13)
    (e1, e2), _ = st.estimates({"a": (num, den), "b": (num2, den2)})
    for e, x, y in ((e1, num, den), (e2, num2, den2)):
        r = x.sum() / y.sum()
        assert e.value == pytest.approx(r, rel=1e-12)
        assert e.adjusted == e.value and e.variance == e.variance_raw
        # closed-form delta method: (var x - 2 R cov(x, y) + R^2 var y) / (n ybar^2)
        cxy = np.cov(x, y, ddof=1)
        closed = (cxy[0, 0] - 2 * r * cxy[0, 1] + r**2 * cxy[1, 1]) / (n * y.mean() ** 2)
        assert e.variance == pytest.approx(closed, rel=1e-9)
        # nonparametric bootstrap of the ratio of sums, users resampled
        boot = np.empty(3000)
        for lo in range(0, boot.size, 500):
            idx = rng.integers(0, n, (500, n))
            boot[lo : lo + 500] = x[idx].sum(axis=1) / y[idx].sum(axis=1)
        assert e.variance == pytest.approx(boot.var(ddof=1), rel=0.10)
    # ... and a naive per-user mean of the ratios is a different (wrong) estimator, so the check has teeth
    naive = np.var(num / den, ddof=1) / n
    assert abs(naive / e1.variance - 1) > 0.10


def test_ratio_difference_interval_covers_the_bootstrap_spread():
    rng = np.random.default_rng(8)
    num_c, den_c = _ratio_arm(rng, 2500, 0.10)
    num_t, den_t = _ratio_arm(rng, 2500, 0.10)
    (ec, et), _ = st.estimates({"c": (num_c, den_c), "t": (num_t, den_t)})
    eff = st.compare(ec, et)
    boot = np.empty(2000)
    for lo in range(0, boot.size, 500):
        ic = rng.integers(0, num_c.size, (500, num_c.size))
        it = rng.integers(0, num_t.size, (500, num_t.size))
        boot[lo : lo + 500] = num_t[it].sum(1) / den_t[it].sum(1) - num_c[ic].sum(1) / den_c[ic].sum(1)
    se_boot = boot.std(ddof=1)
    se = (eff.ci[1] - eff.ci[0]) / 2 / sps.norm.ppf(0.975)
    assert se == pytest.approx(se_boot, rel=0.10)


# --- CUPED vs OLS ------------------------------------------------------------------------------------------


def _ols(y: np.ndarray, t: np.ndarray, x: np.ndarray):
    """y ~ 1 + treatment + (x - mean x): coefficients, classical and HC0 standard errors."""
    X = np.column_stack([np.ones_like(y), t, x - x.mean()])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    xtxi = np.linalg.inv(X.T @ X)
    se_classical = np.sqrt(np.diag(xtxi) * (resid @ resid) / (len(y) - X.shape[1]))
    se_hc0 = np.sqrt(np.diag(xtxi @ (X.T * resid**2) @ X @ xtxi))
    return beta, se_classical, se_hc0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuped_matches_ols_with_a_centred_covariate(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    xc, xt = rng.normal(10, 2, n), rng.normal(10, 2, n)
    yc = 5 + 0.8 * xc + rng.normal(0, 1.5, n)
    yt = 5.3 + 0.8 * xt + rng.normal(0, 1.5, n)
    (ec, et), theta = st.estimates({"c": (yc, None), "t": (yt, None)}, {"c": (xc, None), "t": (xt, None)})
    eff = st.compare(ec, et)
    beta, se_cl, se_hc0 = _ols(np.r_[yc, yt], np.r_[np.zeros(n), np.ones(n)], np.r_[xc, xt])
    # theta: pooled within-arm cov(y, x) / var(x), which is also the OLS slope on x (Frisch-Waugh)
    sxy = sum(np.cov(y, x, ddof=1)[0, 1] * (len(y) - 1) for y, x in ((yc, xc), (yt, xt)))
    sxx = sum(np.var(x, ddof=1) * (len(x) - 1) for x in (xc, xt))
    assert theta == pytest.approx(sxy / sxx, rel=1e-10)
    assert theta == pytest.approx(beta[2], rel=1e-9)
    # the adjusted difference is the OLS treatment coefficient, not the raw difference
    assert eff.absolute == pytest.approx(beta[1], rel=1e-9, abs=1e-12)
    assert abs(eff.absolute - (yt.mean() - yc.mean())) > 1e-3
    se = math.sqrt(ec.variance + et.variance)
    assert se == pytest.approx(se_cl[1], rel=0.01)
    assert se == pytest.approx(se_hc0[1], rel=0.01)
    # variance reduction ~ 1 - corr(y, x)^2 (corr^2 = 0.64 * 4 / (0.64 * 4 + 2.25) ~ 0.53)
    rho2 = np.corrcoef(np.r_[yc, yt], np.r_[xc, xt])[0, 1] ** 2
    for e in (ec, et):
        assert e.variance / e.variance_raw == pytest.approx(1 - rho2, abs=0.03)
        assert e.variance_raw == pytest.approx(np.var(yc if e.arm == "c" else yt, ddof=1) / n, rel=1e-12)


def test_cuped_unbalanced_heteroskedastic_matches_ols_hc0():
    rng = np.random.default_rng(21)
    n_c, n_t = 4000, 1500
    xc, xt = rng.gamma(3, 2, n_c), rng.gamma(3, 2, n_t) + 0.2  # a chance pre-period imbalance
    yc = 2 + 1.1 * xc + rng.normal(0, 2.0, n_c)
    yt = 2.4 + 1.1 * xt + rng.normal(0, 3.5, n_t)
    (ec, et), theta = st.estimates({"c": (yc, None), "t": (yt, None)}, {"c": (xc, None), "t": (xt, None)})
    eff = st.compare(ec, et)
    beta, _, se_hc0 = _ols(np.r_[yc, yt], np.r_[np.zeros(n_c), np.ones(n_t)], np.r_[xc, xt])
    assert theta == pytest.approx(beta[2], rel=1e-9)
    assert eff.absolute == pytest.approx(beta[1], rel=1e-9)
    assert math.sqrt(ec.variance + et.variance) == pytest.approx(se_hc0[1], rel=0.02)
    # the adjustment removes the pre-period imbalance: raw difference ~ 0.4 + 1.1 * 0.2
    assert (yt.mean() - yc.mean()) - eff.absolute == pytest.approx(theta * (xt.mean() - xc.mean()), rel=1e-9)


# --- multiple comparisons -----------------------------------------------------------------------------------

BH1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459]
BH1995 += [0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]


def test_bh_and_holm_on_benjamini_hochberg_1995_example():
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(BH1995))
    p = [BH1995[i] for i in perm]  # unsorted input: output must follow input order
    bh = st.adjust(p, "bh")
    holm = st.adjust(p, "holm")
    assert bh == pytest.approx(bh_reference(p), rel=1e-12)
    assert holm == pytest.approx(holm_reference(p), rel=1e-12)
    rejected_bh = sorted(p[i] for i in range(len(p)) if bh[i] <= 0.05)
    rejected_holm = sorted(p[i] for i in range(len(p)) if holm[i] <= 0.05)
    # the paper: BH at q = 0.05 rejects the four smallest; Bonferroni-type step-down procedures reject three
    assert rejected_bh == [0.0001, 0.0004, 0.0019, 0.0095]
    assert rejected_holm == [0.0001, 0.0004, 0.0019]
    # hand-computed BH values (R: p.adjust(p, "BH")): 0.0095 * 15/4 and the step-up minimum at rank 6
    by_p = dict(zip(p, bh, strict=True))
    assert by_p[0.0095] == pytest.approx(0.035625)
    assert by_p[0.0278] == pytest.approx(0.0298 * 15 / 7)
    assert by_p[0.0459] == pytest.approx(0.0459 * 15 / 9)
    assert by_p[1.0] == 1.0
    assert st.adjust(p, "none") == p


@pytest.mark.parametrize("seed", range(6))
def test_adjust_matches_definitions_on_random_p_values(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 30))
    p = list(np.round(np.r_[rng.uniform(0, 0.02, m // 3), rng.uniform(0, 1, m - m // 3)], 3))  # with ties
    rng.shuffle(p)
    assert st.adjust(p, "holm") == pytest.approx(holm_reference(p), rel=1e-12, abs=1e-15)
    assert st.adjust(p, "bh") == pytest.approx(bh_reference(p), rel=1e-12, abs=1e-15)


def test_adjust_degenerate_and_unknown():
    assert st.adjust([], "bh") == []
    assert st.adjust([0.03], "holm") == [0.03]
    with pytest.raises(ValueError):
        st.adjust([0.1, 0.2], "bonferroni-ish")


# --- sequential (always-valid) intervals -------------------------------------------------------------------


def test_sequential_rho_and_halfwidth_match_howard_formula():
    for alpha in (0.05, 0.01, 0.1):
        la = -2 * math.log(alpha)
        assert st.sequential_rho(alpha) == pytest.approx(math.sqrt((la + math.log(la + 1)) / 5000), rel=1e-14)
        for n in (2, 10, 100, 1000, 5000, 20000, 10**6):
            for v in (1e-4, 0.37, 25.0):
                hw = st.sequential_halfwidth(v, n, alpha)
                assert hw == pytest.approx(howard_halfwidth(v, n, alpha), rel=1e-12)
    # another tuning: tightest (relative to the fixed interval sqrt(V)) near N*
    assert st.sequential_halfwidth(1.0, 300, tuning=300) == pytest.approx(
        howard_halfwidth(1.0, 300, n_star=300)
    )


def test_sequential_interval_is_wider_than_fixed_at_every_n():
    rng = np.random.default_rng(9)
    c_all, t_all = rng.normal(3, 2, 20000), rng.normal(3.1, 2, 20000)
    for n in (3, 5, 10, 30, 100, 1000, 5000, 20000):
        (ec, et), _ = st.estimates({"c": (c_all[:n], None), "t": (t_all[:n], None)})
        fixed, seq = st.compare(ec, et), st.compare(ec, et, sequential=True)
        assert seq.sequential is True and seq.absolute == fixed.absolute
        assert seq.ci[0] < fixed.ci[0] and seq.ci[1] > fixed.ci[1], n
        hw = howard_halfwidth(ec.variance + et.variance, 2 * n)
        assert (seq.ci[1] - seq.ci[0]) / 2 == pytest.approx(hw, rel=1e-12)
        assert seq.p_value >= fixed.p_value
    # for any N: (seq halfwidth / sqrt(V))^2 >= 2 ln(1/alpha) > z^2 -- check densely
    for n in np.unique(np.geomspace(1, 10**7, 400).astype(int)):
        assert st.sequential_halfwidth(1.0 / n, int(n)) > sps.norm.ppf(0.975) * math.sqrt(1.0 / n)


def test_sequential_p_is_below_alpha_exactly_when_the_interval_excludes_zero():
    rng = np.random.default_rng(10)
    seen = {True: 0, False: 0}
    for i in range(300):
        n = int(rng.integers(20, 3000))
        lift = rng.uniform(-0.5, 0.5)
        c, t = rng.normal(5, 2, n), rng.normal(5 + lift, 2, int(n * rng.uniform(0.7, 1.3)))
        (ec, et), _ = st.estimates({"c": (c, None), "t": (t, None)})
        alpha = (0.05, 0.1, 0.01)[i % 3]
        eff = st.compare(ec, et, sequential=True, alpha=alpha)
        excludes = eff.ci[0] > 0 or eff.ci[1] < 0
        assert (eff.p_value <= alpha) == excludes, (eff, alpha)
        seen[excludes] += 1
    assert seen[True] > 30 and seen[False] > 30
    assert st.sequential_p(1.0, 0.0, 100) == 1.0 and st.sequential_p(1.0, 1.0, 0) == 1.0


def test_sequential_p_boundary_closed_form():
    """At |d| = halfwidth(alpha) the always-valid p-value is alpha (same rho)."""
    for n, v in ((50, 0.3), (5000, 0.001), (123456, 2e-5)):
        for alpha in (0.05, 0.2):
            hw = howard_halfwidth(v, n, alpha)
            assert st.sequential_p(hw, v, n, alpha) == pytest.approx(alpha, rel=1e-9)
            assert st.sequential_p(-hw * 1.01, v, n, alpha) < alpha < st.sequential_p(hw * 0.99, v, n, alpha)


def test_confidence_sequence_has_time_uniform_coverage_where_peeking_does_not():
    rng = np.random.default_rng(12)
    paths, horizon = 600, 3000
    x = rng.normal(0.0, 1.0, (paths, horizon))
    n = np.arange(1, horizon + 1)
    mean = np.cumsum(x, axis=1) / n
    var = (np.cumsum(x**2, axis=1) - n * mean**2) / np.maximum(n - 1, 1)
    looks = slice(9, horizon)  # from n = 10
    g = np.array([st.sequential_halfwidth(1.0 / k, int(k)) for k in n[looks]])
    sd = np.sqrt(var[:, looks])
    crossed_seq = (np.abs(mean[:, looks]) > g * sd).any(axis=1).mean()
    crossed_fixed = (np.abs(mean[:, looks]) > 1.96 * sd / np.sqrt(n[looks])).any(axis=1).mean()
    assert crossed_seq <= 0.05
    assert crossed_fixed > 0.25  # optional stopping with fixed intervals inflates the error several-fold


# --- sample-ratio mismatch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observed,weights,mismatch",
    [
        ({"a": 5300, "b": 4700}, {"a": 0.5, "b": 0.5}, True),
        ({"a": 5020, "b": 4980}, {"a": 0.5, "b": 0.5}, False),
        ({"a": 2010, "b": 3950, "c": 4040}, {"a": 1, "b": 2, "c": 2}, False),
        ({"a": 1800, "b": 4100, "c": 4100}, {"a": 0.2, "b": 0.4, "c": 0.4}, True),
        ({"a": 10, "b": 9, "c": 0}, {"a": 1, "b": 1, "c": 1}, False),  # p = 0.008: small counts
        ({"a": 30, "b": 28, "c": 2}, {"a": 1, "b": 1, "c": 1}, True),
    ],
)
def test_srm_matches_scipy_chisquare(observed, weights, mismatch):
    arms = list(weights)
    obs = np.array([observed[a] for a in arms], float)
    w = np.array([weights[a] for a in arms], float)
    ref = sps.chisquare(obs, obs.sum() * w / w.sum())
    out = st.srm(observed, weights)
    assert out["chi2"] == pytest.approx(ref.statistic, rel=1e-6, abs=1e-6)
    assert out["p_value"] == pytest.approx(ref.pvalue, abs=1e-8)
    assert out["mismatch"] is mismatch
    assert out["mismatch"] == (ref.pvalue < 0.001)
    assert out["expected"] == {
        a: round(float(obs.sum() * wi / w.sum()), 1) for a, wi in zip(arms, w, strict=True)
    }
    json.dumps(out, allow_nan=False)


def test_srm_degenerate():
    assert st.srm({}, {"a": 0.5, "b": 0.5})["mismatch"] is False
    assert st.srm({"a": 10}, {"a": 1.0})["p_value"] == 1.0


# --- power: minimum detectable effect and users needed ------------------------------------------------------


@pytest.mark.parametrize(
    "mean,variance,alpha,power",
    [(10.0, 9.0, 0.05, 0.8), (0.12, 0.105, 0.05, 0.9), (250.0, 1.6e5, 0.01, 0.8), (3.0, 4.0, 0.1, 0.5)],
)
def test_mde_and_users_needed_match_the_two_sample_power_formula(mean, variance, alpha, power):
    zsum = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    for n in (100, 1234, 50000):
        m = st.mde(mean, variance, n, alpha=alpha, power=power)
        assert m is not None
        # n = 2 sigma^2 (z_{1-a/2} + z_power)^2 / (mu mde)^2, solved for mde
        assert m == pytest.approx(math.sqrt(2 * variance / n) * zsum / mean, rel=1e-12)
        # the exact two-sided power of a z-test at that effect is the requested power
        se = math.sqrt(2 * variance / n)
        z = sps.norm.ppf(1 - alpha / 2)
        exact_power = sps.norm.cdf(m * mean / se - z) + sps.norm.cdf(-m * mean / se - z)
        assert exact_power == pytest.approx(power, abs=1e-3 if power == 0.5 else 1e-5)
    for rel in (0.01, 0.03, 0.1):
        n_formula = 2 * variance * zsum**2 / (mean * rel) ** 2
        u = st.users_needed(mean, variance, rel, alpha=alpha, power=power)
        assert u is not None and abs(u - n_formula) <= 1, (u, n_formula)
        # users_needed is the inverse of mde: the smallest n that reaches the effect
        assert st.mde(mean, variance, u, alpha=alpha, power=power) <= rel
        if u > 2:
            assert st.mde(mean, variance, u - 1, alpha=alpha, power=power) > rel


def test_sequential_mde_uses_the_confidence_sequence():
    mean, variance, n = 5.0, 16.0, 4000
    se = math.sqrt(2 * variance / n)
    expected = (howard_halfwidth(se**2, 2 * n) + sps.norm.ppf(0.8) * se) / mean
    seq = st.mde(mean, variance, n, sequential=True)
    assert seq == pytest.approx(expected, rel=1e-12)
    assert seq > st.mde(mean, variance, n)
    u_seq = st.users_needed(mean, variance, 0.02, sequential=True)
    u_fix = st.users_needed(mean, variance, 0.02)
    assert u_seq > u_fix
    assert (
        st.mde(mean, variance, u_seq, sequential=True)
        <= 0.02
        < st.mde(mean, variance, u_seq - 1, sequential=True)
    )


def test_power_degenerate_inputs():
    assert st.mde(0.0, 1.0, 100) is None
    assert st.mde(1.0, 0.0, 100) is None
    assert st.mde(1.0, 1.0, 1) is None
    assert st.users_needed(1.0, 1.0, 0.0) is None
    assert st.users_needed(0.0, 1.0, 0.1) is None
    assert st.users_needed(1.0, 1e-6, 10.0) == 2


# --- edge cases --------------------------------------------------------------------------------------------


def _json_ok(*objs) -> None:
    for o in objs:
        json.dumps(o.to_dict(), allow_nan=False)


@pytest.mark.parametrize("den", [False, True])
@pytest.mark.parametrize("sequential", [False, True])
def test_empty_arm_does_not_raise(den, sequential):
    c = np.arange(1.0, 51.0)
    empty = np.array([])
    arms = {"c": (c, np.ones_like(c) if den else None), "t": (empty, empty if den else None)}
    (ec, et), _ = st.estimates(arms)
    assert et.n == 0
    eff = st.compare(ec, et, sequential=sequential)
    assert eff.p_value == 1.0 and eff.relative is None and eff.ci_relative is None
    assert math.isnan(eff.ci[0]) and math.isnan(eff.ci[1])
    _json_ok(ec, et, eff)
    # both arms empty, and the reverse direction
    (e0, e1), _ = st.estimates({"c": (empty, None), "t": (empty, None)})
    _json_ok(st.compare(e0, e1, sequential=sequential), st.compare(et, ec, sequential=sequential))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy: mean of the empty arm's covariate
def test_empty_arm_with_cuped_does_not_raise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=100)
    y = x + rng.normal(size=100)
    empty = np.array([])
    (ec, et), theta = st.estimates({"c": (y, None), "t": (empty, None)}, {"c": (x, None), "t": (empty, None)})
    assert theta is not None and math.isfinite(theta)
    assert math.isfinite(ec.adjusted) and math.isfinite(ec.variance)
    eff = st.compare(ec, et)
    assert eff.p_value == 1.0
    _json_ok(ec, et, eff)


def test_zero_variance_arms_do_not_raise():
    rng = np.random.default_rng(2)
    const = np.full(200, 4.0)
    noisy = rng.normal(4.5, 1.0, 300)
    (ec, et), _ = st.estimates({"c": (const, None), "t": (noisy, None)})
    assert ec.variance == 0.0
    eff = st.compare(ec, et)
    # one constant arm: Welch reduces to a one-sample t-test of the other arm against the constant
    ref = sps.ttest_1samp(noisy, 4.0)
    assert eff.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert st.compare(ec, et, sequential=True).ci[0] < eff.ci[0]
    # both constant: no interval, p = 1, nothing raises
    (e0, e1), _ = st.estimates({"c": (const, None), "t": (const + 1, None)})
    for seq in (False, True):
        eff2 = st.compare(e0, e1, sequential=seq)
        assert eff2.absolute == 1.0 and eff2.p_value == 1.0
        _json_ok(e0, e1, eff2)
    # single user per arm
    (s0, s1), _ = st.estimates({"c": (np.array([1.0]), None), "t": (np.array([2.0]), None)})
    _json_ok(st.compare(s0, s1), st.compare(s0, s1, sequential=True))


@pytest.mark.parametrize("sequential", [False, True])
def test_control_mean_zero_gives_no_relative_effect(sequential):
    rng = np.random.default_rng(4)
    c = np.r_[rng.normal(0, 1, 500), 0.0]
    c = c - c.mean()  # mean exactly 0 (up to rounding) -> force exactly 0 below
    c[-1] -= c.sum()
    assert c.mean() == 0.0
    t = rng.normal(0.2, 1, 500)
    (ec, et), _ = st.estimates({"c": (c, None), "t": (t, None)})
    eff = st.compare(ec, et, sequential=sequential)
    assert eff.relative is None and eff.ci_relative is None
    assert math.isfinite(eff.p_value) and eff.ci[0] < eff.absolute < eff.ci[1]
    d = eff.to_dict()
    assert d["relative"] is None and d["ci95_relative"] is None
    json.dumps(d, allow_nan=False)
    # a ratio metric whose control numerator is all zero: value 0, relative None
    (r0, r1), _ = st.estimates(
        {"c": (np.zeros(100), np.ones(100) * 3), "t": (np.ones(100), np.ones(100) * 3)}
    )
    _json_ok(st.compare(r0, r1, sequential=sequential))
    # and a denominator that sums to zero in one arm
    (z0, z1), _ = st.estimates({"c": (np.zeros(10), np.zeros(10)), "t": (np.ones(10), np.ones(10))})
    _json_ok(z0, z1, st.compare(z0, z1, sequential=sequential))
