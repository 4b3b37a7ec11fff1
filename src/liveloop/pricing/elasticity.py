"""Price elasticities from sales: a fixed-effects Poisson model, per product with category pooling.

Each row of the panel is a *cell*: the units a product sold in one group (a store, the shelf, a live
session…) and period, with its price, its exposure (views; 1 when unknown) and promotion flags. The model

    E[units] = exposure · exp(α_group + γ_period + β_category · log price + κ_category · log cross price
                              + Σ η_k · promo_k)

is fitted by the *conditional* likelihood given each group's total (Hausman, Hall & Griliches 1984), so the
group effects never enter (thousands of them cost nothing) and zero-sale cells count, which a log-log
regression has to drop. β is the own-price elasticity; the period effects γ carry the seasonality (and
anything else every product shares that period); η is a promotion's lift (exp η − 1). Intervals are
cluster-robust (clusters: groups by default), so over-dispersed sales do not make them falsely narrow.

Each product's own slope is then fitted with the rest of the model held fixed and pooled toward its
category (empirical Bayes, method-of-moments between-product variance): sparse products borrow from the
category, well-measured ones keep their own. A product whose price never moved, or which sold too little,
gets no number of its own: its row says why and carries the category's estimate, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from liveloop.core.errors import ValidationFailed

#: Normal quantile of a two-sided 95 % interval.
Z95 = 1.959963984540054
#: Fewest units a product must have sold (in cells with a price spread) for an estimate of its own.
MIN_UNITS = 20
#: Smallest within-group spread of log price (weighted s.d.) that identifies a slope: about a 1 % move.
MIN_LOG_SPREAD = 0.01
REQUIRED = ("product", "category", "group", "period", "units", "price")
#: Largest believable |elasticity| and standard error: beyond them a slope is reported as not identified.
MAX_ABS_ELASTICITY = 20.0
MAX_SE = 5.0


@dataclass
class ElasticityResult:
    """Own-price elasticities per product and category, promotion lifts and the period index."""

    products: pd.DataFrame
    categories: pd.DataFrame
    promotions: pd.DataFrame
    periods: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")]

        return {
            "products": rows(self.products),
            "categories": rows(self.categories),
            "promotions": rows(self.promotions),
            "periods": rows(self.periods),
            "info": self.info,
        }


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _check(cells: pd.DataFrame, promos: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in (*REQUIRED, *promos) if c not in cells.columns]
    if missing:
        raise ValidationFailed(f"the sales panel lacks column {missing[0]!r}", field=missing[0])
    df = cells.copy()
    if "exposure" not in df.columns:
        df["exposure"] = 1.0
    for col in ("units", "price", "exposure", *promos):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    bad_price = ~(df["price"] > 0)
    if bad_price.any():
        raise ValidationFailed(
            f"{int(bad_price.sum())} cells have a price of zero, below zero or missing "
            f"(first: product {df.loc[bad_price, 'product'].iloc[0]!r})",
            field="price",
        )
    if (df["units"] < 0).any() or df["units"].isna().any():
        raise ValidationFailed("units sold must be a number at or above zero", field="units")
    df = df[df["exposure"] > 0].reset_index(drop=True)
    if df.empty:
        raise ValidationFailed("the sales panel has no cell with exposure", field="exposure")
    return df


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


class _Conditional:
    """The conditional Poisson likelihood of cells given their group totals (groups absorbed)."""

    def __init__(self, y: np.ndarray, offset: np.ndarray, group: np.ndarray):
        self.y, self.offset, self.group = y, offset, group
        self.n_groups = int(group.max()) + 1 if len(group) else 0
        self.totals = np.bincount(group, weights=y, minlength=self.n_groups)
        self.G = sparse.csr_matrix(
            (np.ones(len(group)), (group, np.arange(len(group)))), shape=(self.n_groups, len(group))
        )

    def probs(self, eta: np.ndarray) -> np.ndarray:
        top = np.full(self.n_groups, -np.inf)
        np.maximum.at(top, self.group, eta)
        w = np.exp(eta - top[self.group])
        return w / np.bincount(self.group, weights=w, minlength=self.n_groups)[self.group]

    def loglik(self, eta: np.ndarray) -> float:
        p = self.probs(eta)
        return float(np.sum(self.y * np.log(np.maximum(p, 1e-300))))

    def fit(self, X: np.ndarray, theta0: np.ndarray, *, iters: int = 60) -> tuple[np.ndarray, np.ndarray]:
        """Newton-Raphson with step halving; returns (theta, information matrix)."""
        theta = theta0.copy()
        ll = self.loglik(self.offset + X @ theta)
        info = np.eye(len(theta))
        for _ in range(iters):
            eta = self.offset + X @ theta
            mu = self.probs(eta) * self.totals[self.group]
            grad = X.T @ (self.y - mu)
            M = self.G @ (mu[:, None] * X)
            info = X.T @ (mu[:, None] * X) - M.T @ (M / np.maximum(self.totals, 1e-12)[:, None])
            step = np.linalg.lstsq(info + 1e-9 * np.eye(len(theta)), grad, rcond=None)[0]
            t = 1.0
            while t > 1e-4:
                new = theta + t * step
                new_ll = self.loglik(self.offset + X @ new)
                if new_ll >= ll - 1e-10:
                    break
                t /= 2
            theta, done = new, abs(new_ll - ll) < 1e-9 * (1 + abs(ll))
            ll = new_ll
            if done and t == 1.0:
                break
        return theta, info

    def robust_cov(
        self, X: np.ndarray, theta: np.ndarray, info: np.ndarray, cluster: np.ndarray
    ) -> np.ndarray:
        """Cluster-robust (sandwich) covariance, with the usual G/(G−1) correction."""
        eta = self.offset + X @ theta
        mu = self.probs(eta) * self.totals[self.group]
        scores = X * (self.y - mu)[:, None]
        n_cl = int(cluster.max()) + 1
        S = np.zeros((n_cl, X.shape[1]))
        np.add.at(S, cluster, scores)
        bread = np.linalg.pinv(info)
        factor = n_cl / max(n_cl - 1, 1)
        return factor * bread @ (S.T @ S) @ bread


def estimate(
    cells: pd.DataFrame,
    *,
    promos: tuple[str, ...] = (),
    cross: bool = False,
    cluster: str | None = None,
    block: str | None = None,
    min_units: int = MIN_UNITS,
) -> ElasticityResult:
    """Fit the model of the module docstring to ``cells``.

    ``cells`` has columns product, category, group, period, units, price and optionally exposure, the
    ``promos`` flag columns and (with ``cross``) cross_price: the mean price of the category's other
    products in that group and period. ``cluster`` names the column the intervals cluster on (default: the
    group); ``block`` the column a product's own interval clusters on within the product (default: the
    group), so slow drift of one product's demand widens its interval instead of posing as a response.
    """
    df = _check(cells, promos)
    if cross and "cross_price" not in df.columns:
        raise ValidationFailed("cross-price elasticities need a cross_price column", field="cross_price")
    group, _ = _codes(df["group"].astype(str) + "\x1f" + df["product"].astype(str))
    period, periods = _codes(df["period"])
    cat, cats = _codes(df["category"].astype(str))
    y = df["units"].to_numpy(float)
    x = np.log(df["price"].to_numpy(float))
    offset = np.log(df["exposure"].to_numpy(float))
    # Groups that say nothing (no sale, or a single cell) are dropped from the fit.
    totals = np.bincount(group, weights=y)
    sizes = np.bincount(group)
    keep = (totals[group] > 0) & (sizes[group] > 1)
    spread = _within_spread(x, group, y + 1e-9)
    # Design: own slope per category, cross slope per category, promotions, period effects (first dropped).
    blocks = [_one_hot(cat, len(cats)) * x[:, None]]
    names = [("own", c) for c in cats]
    if cross:
        cx = np.log(pd.to_numeric(df["cross_price"], errors="coerce").to_numpy(float))
        if not np.isfinite(cx).all():
            raise ValidationFailed("cross_price must be positive in every cell", field="cross_price")
        blocks.append(_one_hot(cat, len(cats)) * cx[:, None])
        names += [("cross", c) for c in cats]
    for p in promos:
        blocks.append(df[p].to_numpy(float)[:, None])
        names.append(("promo", p))
    blocks.append(_one_hot(period, len(periods))[:, 1:])
    names += [("period", t) for t in periods[1:]]
    X = np.hstack(blocks)[keep]
    if not keep.any():
        raise ValidationFailed("no product sold in two cells: nothing to estimate from", field="units")
    kept_group, _ = _codes(pd.Series(group[keep]))
    model = _Conditional(y[keep], offset[keep], kept_group)
    # Columns without variation (a category whose prices never moved, a constant flag) are not identified.
    info0 = _column_information(X, model)
    identified = info0 > 1e-8
    theta = np.zeros(X.shape[1])
    theta_id, info = model.fit(X[:, identified], theta[identified])
    theta[identified] = theta_id
    cl_values = df[cluster] if cluster else pd.Series(group)
    clusters, _ = _codes(pd.Series(np.asarray(cl_values)[keep]).astype(str))
    cov_id = model.robust_cov(X[:, identified], theta_id, info, clusters)
    se = np.full(X.shape[1], np.nan)
    se[identified] = np.sqrt(np.maximum(np.diag(cov_id), 0))
    theta[~identified] = np.nan
    # A price slope that ran off (all of a category's sales at one end of its prices: the likelihood
    # has no maximum) or that the data barely pins down is not identified, not a number to price with.
    for i, (kind, _) in enumerate(names):
        if kind in ("own", "cross") and not (abs(theta[i]) < MAX_ABS_ELASTICITY and se[i] < MAX_SE):
            theta[i] = se[i] = np.nan

    def coef(kind: str, key: Any) -> tuple[float, float]:
        i = names.index((kind, key))
        return float(theta[i]), float(se[i])

    categories = []
    for c in cats:
        b, s = coef("own", c)
        row: dict[str, Any] = {
            "category": c,
            "elasticity": b,
            "se": s,
            "low": b - Z95 * s,
            "high": b + Z95 * s,
        }
        if cross:
            k, ks = coef("cross", c)
            row.update(cross=k, cross_se=ks, cross_low=k - Z95 * ks, cross_high=k + Z95 * ks)
        row["identified"] = bool(np.isfinite(b))
        categories.append(row)
    cat_df = pd.DataFrame(categories)
    promo_rows = []
    for p in promos:
        b, s = coef("promo", p)
        promo_rows.append(
            {"promotion": p, "lift": np.expm1(b), "low": np.expm1(b - Z95 * s), "high": np.expm1(b + Z95 * s)}
        )
    # The period index (1 = a typical period); a period without sales has none.
    gammas = np.concatenate([[0.0], theta[[names.index(("period", t)) for t in periods[1:]]]])
    sold = np.bincount(period, weights=y, minlength=len(periods)) > 0
    gammas = np.where(sold & np.isfinite(gammas) & (gammas > -30), gammas, np.nan)
    period_df = pd.DataFrame({"period": periods, "index": np.exp(gammas - np.nanmedian(gammas))})
    eta = offset + _linear(blocks, theta)
    block_key = (
        df["product"].astype(str)
        + "\x1f"
        + (df[block].astype(str) if block else pd.Series(group).astype(str))
    )
    block_codes, _ = _codes(block_key)
    products = _product_slopes(df, x, eta, group, cat, cats, cat_df, spread, min_units, block_codes)
    info_out = {
        "cells": len(df),
        "cells_used": int(keep.sum()),
        "groups": int(model.n_groups),
        "units": float(y.sum()),
        "clusters": int(clusters.max()) + 1 if len(clusters) else 0,
        "model": "conditional Poisson (group fixed effects) with period effects",
    }
    return ElasticityResult(products, cat_df, pd.DataFrame(promo_rows), period_df, info_out)


def _linear(blocks: list[np.ndarray], theta: np.ndarray) -> np.ndarray:
    """The fitted linear predictor on every cell (unidentified coefficients count as zero)."""
    return np.hstack(blocks) @ np.nan_to_num(theta, nan=0.0)


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _within_spread(x: np.ndarray, group: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per cell, the weighted s.d. of log price within its group."""
    n = int(group.max()) + 1
    sw = np.bincount(group, weights=w, minlength=n)
    mean = np.bincount(group, weights=w * x, minlength=n) / np.maximum(sw, 1e-12)
    var = np.bincount(group, weights=w * (x - mean[group]) ** 2, minlength=n) / np.maximum(sw, 1e-12)
    return np.sqrt(var)[group]


def _column_information(X: np.ndarray, model: _Conditional) -> np.ndarray:
    """Diagonal of the information at θ = 0: zero for a column with no within-group variation."""
    mu = model.probs(model.offset) * model.totals[model.group]
    M = model.G @ (mu[:, None] * X)
    return np.einsum("ij,i,ij->j", X, mu, X) - np.einsum(
        "gj,g,gj->j", M, 1 / np.maximum(model.totals, 1e-12), M
    )


def _product_slopes(
    df: pd.DataFrame,
    x: np.ndarray,
    eta: np.ndarray,
    group: np.ndarray,
    cat: np.ndarray,
    cats: np.ndarray,
    cat_df: pd.DataFrame,
    spread: np.ndarray,
    min_units: int,
    blocks: np.ndarray,
) -> pd.DataFrame:
    """Each product's own slope (the rest held at the fit), pooled toward its category."""
    beta_c = cat_df["elasticity"].to_numpy(float)
    se_c = cat_df["se"].to_numpy(float)
    prod, prods = _codes(df["product"].astype(str))
    y = df["units"].to_numpy(float)
    base = eta - np.nan_to_num(beta_c[cat]) * x  # everything but the own-price term
    totals = np.bincount(group, weights=y)
    n_g = int(group.max()) + 1
    b = np.nan_to_num(beta_c)[cat_of(prod, cat, len(prods))]
    hess: np.ndarray = np.zeros(len(prods))
    for _ in range(40):
        eta_j = base + b[prod] * x
        top = np.full(n_g, -np.inf)
        np.maximum.at(top, group, eta_j)
        w = np.exp(eta_j - top[group])
        p = w / np.bincount(group, weights=w, minlength=n_g)[group]
        mu = p * totals[group]
        grad = np.bincount(prod, weights=x * (y - mu), minlength=len(prods))
        xbar = np.bincount(group, weights=p * x, minlength=n_g)
        x2 = np.bincount(group, weights=p * x * x, minlength=n_g)
        per_group = totals * (x2 - xbar**2)
        g_prod = np.zeros(n_g, dtype=np.int64)
        g_prod[group] = prod
        hess = np.bincount(g_prod, weights=per_group, minlength=len(prods)).astype(float)
        step = np.where(hess > 1e-9, grad / np.maximum(hess, 1e-9), 0.0)
        b = b + np.clip(step, -2, 2)
        if np.max(np.abs(step)) < 1e-8:
            break
    # Over-dispersion per product: Pearson χ² per degree of freedom, never below 1.
    eta_j = base + b[prod] * x
    top = np.full(n_g, -np.inf)
    np.maximum.at(top, group, eta_j)
    w = np.exp(eta_j - top[group])
    mu = w / np.bincount(group, weights=w, minlength=n_g)[group] * totals[group]
    pearson = np.bincount(prod, weights=(y - mu) ** 2 / np.maximum(mu, 1e-9), minlength=len(prods))
    cells_used = np.bincount(prod, weights=(totals[group] > 0).astype(float), minlength=len(prods))
    groups_used = np.bincount(
        prod, weights=(totals[group] > 0) / np.maximum(np.bincount(group)[group], 1), minlength=len(prods)
    )
    dof = np.maximum(cells_used - groups_used - 1, 1)
    # Over-dispersion is shared by a category's products (several units to an order): their pooled
    # Pearson ratio is a floor under each product's own, which a few sparse cells estimate poorly.
    pc = cat_of(prod, cat, len(prods))
    phi_cat = np.bincount(pc, weights=pearson, minlength=len(cats)) / np.maximum(
        np.bincount(pc, weights=dof, minlength=len(cats)), 1
    )
    phi = np.maximum(np.maximum(pearson / dof, phi_cat[pc]), 1.0)
    units = np.bincount(prod, weights=y, minlength=len(prods))
    moving = np.bincount(prod, weights=y * (spread > MIN_LOG_SPREAD), minlength=len(prods))
    n_prices = df.assign(_p=prod).groupby("_p")["price"].nunique().reindex(range(len(prods))).to_numpy()
    # Robust to slow product-specific drift (a season the shared period effects cannot absorb): the
    # scores summed per block (a week in the warehouse's panel) and squared; the larger variance is kept.
    xbar = np.bincount(group, weights=mu / np.maximum(totals[group], 1e-12) * x, minlength=n_g)
    block_sum = np.bincount(blocks, weights=(x - xbar[group]) * (y - mu))
    block_prod = np.zeros(len(block_sum), dtype=np.int64)
    block_prod[blocks] = prod
    meat = np.bincount(block_prod, weights=block_sum**2, minlength=len(prods))
    n_blocks = np.bincount(block_prod, minlength=len(prods))
    robust = np.where(
        n_blocks >= 2, meat / np.maximum(hess, 1e-12) ** 2 * n_blocks / np.maximum(n_blocks - 1, 1), 0.0
    )
    variance = np.maximum(phi / np.maximum(hess, 1e-12), robust)
    own_se = np.where(hess > 1e-9, np.sqrt(variance), np.nan)
    own_ok = (
        (n_prices > 1)
        & (moving >= min_units)
        & np.isfinite(own_se)
        & (own_se < MAX_SE)
        & (np.abs(b) < MAX_ABS_ELASTICITY)
    )
    reason = np.where(
        n_prices <= 1,
        "one_price",
        np.where(moving < min_units, "too_few_sales", np.where(own_ok, "", "no_variation")),
    )
    rows = []
    for c_i, c in enumerate(cats):
        members = np.flatnonzero(pc == c_i)
        ok = members[own_ok[members]]
        bc, sc = beta_c[c_i], se_c[c_i]
        tau2 = between_variance(b[ok], own_se[ok]) if len(ok) >= 2 else 0.0
        for j in members:
            row: dict[str, Any] = {
                "product": prods[j],
                "category": c,
                "units": float(units[j]),
                "prices": int(n_prices[j]),
                "own": float(b[j]) if own_ok[j] else np.nan,
                "own_se": float(own_se[j]) if own_ok[j] else np.nan,
            }
            if own_ok[j] and np.isfinite(bc):
                weight = tau2 / (tau2 + own_se[j] ** 2) if tau2 > 0 else 0.0
                est = bc + weight * (b[j] - bc)
                var = weight * own_se[j] ** 2 + (1 - weight) ** 2 * sc**2
                source = "own" if weight >= 0.5 else "pooled"
            elif own_ok[j]:
                weight, est, var, source = 1.0, float(b[j]), own_se[j] ** 2, "own"
            else:
                weight, est, var, source = 0.0, bc, tau2 + sc**2, "category"
            s = float(np.sqrt(var)) if np.isfinite(var) else np.nan
            row.update(
                elasticity=float(est),
                se=s,
                low=float(est - Z95 * s),
                high=float(est + Z95 * s),
                weight=float(weight),
                source=source if np.isfinite(est) else "none",
                reason=str(reason[j]) or None,
            )
            rows.append(row)
    return pd.DataFrame(rows)


def cat_of(prod: np.ndarray, cat: np.ndarray, n: int) -> np.ndarray:
    """The category code of each product code (a product's first cell decides)."""
    out = np.zeros(n, dtype=np.int64)
    out[prod[::-1]] = cat[::-1]
    return out


def between_variance(estimates: np.ndarray, se: np.ndarray) -> float:
    """The spread of true slopes between a category's products (τ²), by maximum marginal likelihood of
    ``estimate ~ N(μ, se² + τ²)`` over a log grid refined once. Likelihood weighting keeps a few precise
    but off products from inflating τ² the way the moment (DerSimonian–Laird) estimator lets them."""

    def loglik(t2: float) -> float:
        v = se**2 + t2
        w = 1 / v
        mu = float(np.sum(w * estimates) / np.sum(w))
        return float(-0.5 * np.sum(np.log(v) + (estimates - mu) ** 2 / v))

    grid = np.concatenate([[0.0], np.geomspace(1e-4, 25.0, 121)])
    best = int(np.argmax([loglik(t) for t in grid]))
    if best == 0:
        return 0.0
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    fine = np.linspace(lo, hi, 41)
    return float(fine[int(np.argmax([loglik(t) for t in fine]))])
