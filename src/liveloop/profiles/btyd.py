"""Buy-till-you-die models written with SciPy: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma spend.

Inputs are the customer-level summary used throughout the BTYD literature: ``frequency`` (repeat
purchases, i.e. distinct purchase periods after the first), ``recency`` (time from the first to the
last purchase) and ``T`` (time from the first purchase to the end of calibration), all in one unit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from liveloop.core.errors import InsufficientData

_MIN_CUSTOMERS = 20


def _summary_arrays(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    t = np.asarray(T, dtype=float)
    if not (x.shape == t_x.shape == t.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t < t_x):
        raise ValueError("need frequency >= 0 and 0 <= recency <= T")
    return x, t_x, t


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (equation 6 of Fader, Hardie & Lee 2005)."""
    r, alpha, a, b = params
    ln_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    ln_a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + t)
    with np.errstate(divide="ignore"):
        ln_a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


@dataclass
class BetaGeoFitter:
    """BG/NBD purchase-and-dropout model, fitted by maximum likelihood (L-BFGS-B on log-parameters)."""

    penalizer: float = 0.0
    params_: dict[str, float] = field(default_factory=dict)
    log_likelihood_: float = float("nan")
    n_customers_: int = 0

    def fit(self, frequency: Any, recency: Any, T: Any) -> BetaGeoFitter:
        x, t_x, t = _summary_arrays(frequency, recency, T)
        if len(x) < _MIN_CUSTOMERS or not np.any(x > 0):
            raise InsufficientData(
                f"BG/NBD needs at least {_MIN_CUSTOMERS} customers and some repeat purchases "
                f"(got {len(x)} customers, {int(np.sum(x > 0))} repeaters)"
            )
        scale = max(float(np.max(t)), 1e-9) / 10.0  # rescale time for a well-conditioned fit

        def objective(log_params: np.ndarray) -> float:
            p = np.exp(log_params)
            ll = bgnbd_log_likelihood(p, x, t_x / scale, t / scale)
            return -float(np.sum(ll)) / len(x) + self.penalizer * float(np.sum(p**2))

        best: optimize.OptimizeResult | None = None
        for start in (np.zeros(4), np.log([0.5, 1.0, 1.0, 2.0])):
            res = optimize.minimize(objective, start, method="L-BFGS-B")
            res = optimize.minimize(
                objective,
                res.x,
                method="Nelder-Mead",
                options={"xatol": 1e-8, "fatol": 1e-11, "maxiter": 4000},
            )
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        r, alpha, a, b = np.exp(best.x)
        alpha *= scale
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(np.sum(bgnbd_log_likelihood(np.array([r, alpha, a, b]), x, t_x, t)))
        self.n_customers_ = len(x)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        if not self.params_:
            raise InsufficientData("the BG/NBD model is not fitted")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(customer still active at T | x, t_x, T)."""
        r, alpha, a, b = self._p()
        x, t_x, t = _summary_arrays(frequency, recency, T)
        log_ratio = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.clip(log_ratio, -700, 700))), 1.0)

    def expected_purchases(self, horizon: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected number of purchases in (T, T + horizon] given the history (FHL 2005 eq. 10)."""
        r, alpha, a, b = self._p()
        x, t_x, t = _summary_arrays(frequency, recency, T)
        z = horizon / (alpha + t + horizon)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        numer = (a + b + x - 1) / (a - 1) * (1 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp)
        denom = 1 + np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + t) / (alpha + t_x)) ** (r + x), 0.0
        )
        return np.asarray(numer / denom)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> BetaGeoFitter:
        return cls(**json.loads(Path(path).read_text()))


def gamma_gamma_log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over ``x`` transactions."""
    p, q, v = params
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


@dataclass
class GammaGammaFitter:
    """Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005b), for repeat buyers."""

    params_: dict[str, float] = field(default_factory=dict)
    log_likelihood_: float = float("nan")

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGammaFitter:
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < _MIN_CUSTOMERS:
            raise InsufficientData(
                f"Gamma-Gamma needs at least {_MIN_CUSTOMERS} repeat buyers (got {len(x)})"
            )
        scale = float(np.mean(m))

        def objective(log_params: np.ndarray) -> float:
            return -float(np.mean(gamma_gamma_log_likelihood(np.exp(log_params), x, m / scale)))

        res = optimize.minimize(
            objective,
            np.zeros(3),
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-11, "maxiter": 4000},
        )
        p, q, v = np.exp(res.x)
        v *= scale
        self.params_ = {"p": float(p), "q": float(q), "v": float(v)}
        self.log_likelihood_ = float(np.sum(gamma_gamma_log_likelihood(np.array([p, q, v]), x, m)))
        return self

    def expected_average_value(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[spend per transaction | x, m]; the population mean for customers without repeats."""
        if not self.params_:
            raise InsufficientData("the Gamma-Gamma model is not fitted")
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(frequency, dtype=float)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=float))
        weight = (q - 1) / (p * x + q - 1)
        return np.asarray(weight * (v * p / (q - 1)) + (1 - weight) * m)


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: pd.Timestamp,
    *,
    customer: str = "user_id",
    ts: str = "ts",
    amount: str | None = "amount",
    freq_days: float = 7.0,
) -> pd.DataFrame:
    """BTYD summary (frequency, recency, T, monetary_value) from transactions before ``calibration_end``.

    Purchases on the same day count once (as in the literature); time is in units of ``freq_days``.
    ``monetary_value`` is the mean value of the repeat purchase days (0 without repeats).
    """
    tx = transactions[transactions[ts] < calibration_end].copy()
    if tx.empty:
        return pd.DataFrame(columns=["frequency", "recency", "T", "monetary_value"])
    tx["_day"] = pd.to_datetime(tx[ts]).dt.floor("D")
    keys = tx.groupby([customer, "_day"], sort=True)
    per_day: pd.Series = keys[amount].sum() if amount else keys.size()
    daily: pd.DataFrame = per_day.rename("value").reset_index()
    first = daily.groupby(customer)["_day"].transform("min")
    daily["_is_first"] = daily["_day"] == first
    end = pd.Timestamp(calibration_end).floor("D")
    g = daily.groupby(customer)
    out = pd.DataFrame(
        {
            "frequency": g.size() - 1,
            "recency": (g["_day"].max() - g["_day"].min()).dt.days / freq_days,
            "T": (end - g["_day"].min()).dt.days / freq_days,
        }
    )
    repeat = daily[~daily["_is_first"]].groupby(customer)["value"].mean()
    out["monetary_value"] = repeat.reindex(out.index).fillna(0.0).astype(float)
    return out
