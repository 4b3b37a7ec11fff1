"""Uplift (treatment-effect) targeting: who is persuadable, not who would respond anyway.

``UpliftModel`` is a T- or X-learner over LightGBM, fitted on a randomised campaign (treated and control
rows with their outcome); ``predict`` estimates each row's uplift, P(y | treated) - P(y | control).
The metrics follow scikit-uplift 0.5.1 (``sklift.metrics``): ``uplift_at_k`` with its ``"overall"``
strategy, ``qini_curve``, ``perfect_qini_curve`` and the normalised ``qini_auc_score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.metrics import auc
from sklearn.utils.validation import check_is_fitted

from liveloop.core.errors import ValidationFailed

Learner = Literal["x", "t"]


# --- input checks -------------------------------------------------------------------------------------


def _vector(values: ArrayLike, field: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValidationFailed(f"{field} must be one-dimensional, got shape {arr.shape}", field=field)
    if not np.isfinite(arr).all():
        raise ValidationFailed(f"{field} has missing or infinite values", field=field)
    return arr


def _binary(values: ArrayLike, field: str) -> np.ndarray:
    arr = _vector(values, field)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValidationFailed(
            f"{field} must be 0/1 only, got {sorted(set(np.unique(arr)))[:5]}", field=field
        )
    return arr.astype(np.int8)


def _same_length(n: int, **arrays: np.ndarray) -> None:
    for field, arr in arrays.items():
        if len(arr) != n:
            raise ValidationFailed(f"{field} has {len(arr)} rows, expected {n}", field=field)


def _both_arms(treatment: np.ndarray) -> None:
    if treatment.min() == treatment.max():
        raise ValidationFailed("treatment needs both treated (1) and control (0) rows", field="treatment")


def _checked(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike, *, binary_y: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy = _binary(y, "y") if binary_y else _vector(y, "y")
    tt = _binary(treatment, "treatment")
    ss = _vector(score, "score")
    _same_length(len(yy), treatment=tt, score=ss)
    _both_arms(tt)
    return yy, tt, ss


# --- metrics ------------------------------------------------------------------------------------------


def uplift_at_k(y: ArrayLike, treatment: ArrayLike, score: ArrayLike, k: float = 0.3) -> float:
    """Treated minus control response rate among the top ``k`` share of ALL rows ranked by ``score``.

    scikit-uplift's ``strategy="overall"``: the top ``int(n * k)`` rows (ties broken as sklift does),
    then the two arms' mean outcome within them. ``k`` is a share in (0, 1].
    """
    yy, tt, ss = _checked(y, treatment, score, binary_y=False)
    if not 0.0 < float(k) <= 1.0:
        raise ValidationFailed(f"k must be a share in (0, 1], got {k}", field="k")
    top = np.argsort(ss, kind="mergesort")[::-1][: int(len(ss) * k)]
    treated, control = yy[top][tt[top] == 1], yy[top][tt[top] == 0]
    if len(treated) == 0 or len(control) == 0:
        raise ValidationFailed(f"the top {k:.0%} holds no treated or no control rows", field="k")
    return float(treated.mean() - control.mean())


def qini_curve(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve (Radcliffe 2007): for the top ``n`` rows by score, Y_T(n) - Y_C(n) * N_T(n) / N_C(n).

    Points at each distinct score (tied rows enter together) and at (0, 0), as in scikit-uplift.
    """
    yy, tt, ss = _checked(y, treatment, score)
    order = np.argsort(ss, kind="mergesort")[::-1]
    yy, tt, ss = yy[order], tt[order], ss[order]
    cut = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    n_all = cut + 1
    n_t = np.cumsum(tt)[cut].astype(float)
    n_c = n_all - n_t
    y_t = np.cumsum(yy * tt)[cut].astype(float)
    y_c = np.cumsum(yy * (1 - tt))[cut].astype(float)
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return np.r_[0, n_all], np.r_[0.0, y_t - y_c * ratio]


def perfect_qini_curve(
    y: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The best achievable Qini curve: treated responders first and control responders last.

    Without ``negative_effect`` the optimum ignores harm and rises straight to the total gain.
    """
    yy = _binary(y, "y")
    tt = _binary(treatment, "treatment")
    _same_length(len(yy), treatment=tt)
    _both_arms(tt)
    if negative_effect:
        return qini_curve(yy, tt, yy * tt - yy * (1 - tt))
    gain = yy[tt == 1].sum() - (tt == 1).sum() * yy[tt == 0].sum() / (tt == 0).sum()
    return np.array([0.0, gain, len(yy)]), np.array([0.0, gain, gain])


def qini_auc_score(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike, negative_effect: bool = True
) -> float:
    """Normalised Qini coefficient: area between the Qini curve and random targeting's diagonal,
    over the same area for the perfect curve (scikit-uplift's ``qini_auc_score``; 1 = perfect, 0 = random).
    """
    yy, tt, ss = _checked(y, treatment, score)
    x_perfect, q_perfect = perfect_qini_curve(yy, tt, negative_effect)
    baseline = auc(np.array([0.0, x_perfect[-1]]), np.array([0.0, q_perfect[-1]]))
    perfect = auc(x_perfect, q_perfect) - baseline
    if perfect == 0:
        raise ValidationFailed("the perfect Qini curve has no area: no response difference", field="y")
    return float((auc(*qini_curve(yy, tt, ss)) - baseline) / perfect)


# --- the model ----------------------------------------------------------------------------------------


class UpliftModel(BaseEstimator):
    """A T-learner (two outcome models) or X-learner (Künzel et al. 2019) over LightGBM.

    T: uplift = mu1(x) - mu0(x). X: impute each row's effect against the other arm's outcome model,
    regress those effects per arm and blend them by the treated share (the propensity of a randomised
    campaign). Binary outcomes use classifiers' probabilities, others regressors.
    """

    def __init__(
        self,
        learner: Learner = "x",
        seed: int = 0,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
    ) -> None:
        self.learner = learner
        self.seed = seed
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda

    def _lgbm(self, kind: type[LGBMClassifier] | type[LGBMRegressor]) -> Any:
        return kind(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            reg_lambda=self.reg_lambda,
            random_state=self.seed,
            n_jobs=1,
            deterministic=True,
            verbose=-1,
        )

    def _outcome(self, model: Any, X: Any) -> np.ndarray:
        if self.binary_:
            return np.asarray(model.predict_proba(X)[:, 1])
        return np.asarray(model.predict(X))

    def fit(self, X: Any, treatment: ArrayLike, y: ArrayLike) -> UpliftModel:
        """Fit on a randomised campaign: features ``X``, ``treatment`` 0/1 and outcome ``y``."""
        if self.learner not in ("x", "t"):
            raise ValidationFailed(f"learner must be 'x' or 't', got {self.learner!r}", field="learner")
        tt = _binary(treatment, "treatment").astype(bool)
        yy = _vector(y, "y")
        _same_length(len(X), treatment=tt, y=yy)
        _both_arms(tt)
        self.binary_ = bool(np.isin(yy, (0.0, 1.0)).all())
        X = X if isinstance(X, pd.DataFrame) else np.asarray(X)
        outcome = LGBMClassifier if self.binary_ else LGBMRegressor
        self.mu0_ = self._lgbm(outcome).fit(X[~tt], yy[~tt])
        self.mu1_ = self._lgbm(outcome).fit(X[tt], yy[tt])
        self.propensity_ = float(tt.mean())
        if self.learner == "x":
            self.tau1_ = self._lgbm(LGBMRegressor).fit(X[tt], yy[tt] - self._outcome(self.mu0_, X[tt]))
            self.tau0_ = self._lgbm(LGBMRegressor).fit(X[~tt], self._outcome(self.mu1_, X[~tt]) - yy[~tt])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Estimated uplift of treating each row of ``X``."""
        check_is_fitted(self, "mu0_")
        if self.learner == "t":
            return self._outcome(self.mu1_, X) - self._outcome(self.mu0_, X)
        g = self.propensity_
        return np.asarray(g * self.tau0_.predict(X) + (1 - g) * self.tau1_.predict(X))

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (joblib)."""
        check_is_fitted(self, "mu0_")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> UpliftModel:
        """Read a model written by ``save``."""
        model = joblib.load(Path(path))
        if not isinstance(model, cls):
            raise ValidationFailed(f"{path} does not hold an UpliftModel", field="path")
        return model
