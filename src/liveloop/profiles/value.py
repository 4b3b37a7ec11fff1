"""High-value prediction: will a user's spend in the next window be in the top X%? (RF and LightGBM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import InsufficientData
from liveloop.profiles.features import consumption_features
from liveloop.profiles.metrics import binary_metrics
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse
from liveloop.warehouse.artifacts import Pickled

#: Non-numeric or bookkeeping columns never used as model inputs.
_EXCLUDE = {"age_band", "gender", "region", "top_category", "price_band", "best_channel"}


def next_window_value(wh: Warehouse, win: Window) -> pd.Series:
    """Spend per user inside ``win`` (purchase count when the data carry no amounts)."""
    c = consumption_features(wh, win).to_pandas().set_index("user_id")
    monetary = pd.to_numeric(c["monetary"], errors="coerce").fillna(0.0)
    return monetary if monetary.sum() > 0 else c["frequency"].astype(float)


def high_value_labels(value: pd.Series, index: pd.Index, top_share: float = 0.2) -> pd.Series:
    """True for users whose value is in the top ``top_share`` of all users in ``index`` (and above 0)."""
    v = value.reindex(index).fillna(0.0)
    positive = v[v > 0]
    if positive.empty:
        return pd.Series(False, index=index)
    threshold = float(v.quantile(1 - top_share))
    at_threshold = (v >= threshold) & (v > 0) if threshold > 0 else pd.Series(False, index=v.index)
    return (v > max(threshold, 0.0)) | at_threshold


def model_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Numeric model inputs from a feature table; missing values become -1 (trees split on it)."""
    cols = [c for c in features.columns if c not in _EXCLUDE and pd.api.types.is_numeric_dtype(features[c])]
    x = features[cols].astype(float).fillna(-1.0)
    gender = features.get("gender")
    if gender is not None:
        x["gender_female"] = (gender == "female").astype(float)
    return x


@dataclass
class HighValueModel(Pickled):
    """Random forest (``kind='rf'``) or LightGBM (``kind='lgbm'``) classifier of next-window high value.

    Each forest tree sees at most ``max_tree_samples`` bootstrap rows, so training cost is bounded."""

    kind: str = "rf"
    seed: int = 0
    n_estimators: int = 200
    max_tree_samples: int = 20_000
    columns_: list[str] = field(default_factory=list)
    model_: Any = None

    def _new(self, n_rows: int) -> Any:
        if self.kind == "rf":
            from sklearn.ensemble import RandomForestClassifier

            return RandomForestClassifier(
                n_estimators=self.n_estimators,
                min_samples_leaf=3,
                class_weight="balanced",
                max_samples=self.max_tree_samples if n_rows > self.max_tree_samples else None,
                random_state=self.seed,
                n_jobs=2,
            )
        if self.kind == "lgbm":
            from lightgbm import LGBMClassifier

            return LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=0.05,
                num_leaves=15,
                min_child_samples=10,
                class_weight="balanced",
                random_state=self.seed,
                n_jobs=2,
                verbose=-1,
            )
        raise ValueError(f"unknown model kind {self.kind!r} (rf or lgbm)")

    def fit(self, features: pd.DataFrame, labels: pd.Series) -> HighValueModel:
        y = labels.reindex(features.index).fillna(False).astype(int)
        if y.nunique() < 2 or y.sum() < 5:
            raise InsufficientData(
                f"high-value model needs both classes in training (got {int(y.sum())} positives)"
            )
        x = model_matrix(features)
        self.columns_ = list(x.columns)
        self.model_ = self._new(len(x)).fit(x.to_numpy(), y.to_numpy())
        return self

    def predict_proba(self, features: pd.DataFrame) -> pd.Series:
        if self.model_ is None:
            raise InsufficientData("the high-value model is not fitted")
        x = model_matrix(features).reindex(columns=self.columns_, fill_value=-1.0)
        return pd.Series(self.model_.predict_proba(x.to_numpy())[:, 1], index=features.index)

    def predict(self, features: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        return self.predict_proba(features) >= threshold

    def importances(self, top: int = 5) -> list[tuple[str, float]]:
        imp = np.asarray(self.model_.feature_importances_, dtype=float)
        imp = imp / imp.sum() if imp.sum() > 0 else imp
        order = np.argsort(-imp)[:top]
        return [(self.columns_[i], float(imp[i])) for i in order]


def rfm_rule(features: pd.DataFrame, top_share: float = 0.2) -> pd.Series:
    """Baseline: predict high value for the top ``top_share`` by past spend (or purchases), then recency."""
    past = features["monetary"] if features["monetary"].sum() > 0 else features["frequency"]
    score = past.rank(pct=True) - 1e-6 * features["recency_days"].fillna(1e9)
    return (score >= score.quantile(1 - top_share)) & (past > 0)


#: The high-value model kinds and their display names.
HIGH_VALUE_KINDS = {"rf": "random forest", "lgbm": "LightGBM"}


def fit_high_value(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    choose: str = "auto",
    top_share: float = 0.2,
    test_share: float = 0.25,
    seed: int = 0,
    n_estimators: int = 100,
) -> tuple[HighValueModel, dict[str, Any]]:
    """Fit both kinds on a stratified user split, score them and the RFM rule on the held-out users, keep
    ``choose`` ('rf', 'lgbm') or, with 'auto', the one with the higher held-out AUC. Returns the kept
    model and a report of every candidate's held-out metrics."""
    from sklearn.model_selection import train_test_split

    if choose not in ("auto", *HIGH_VALUE_KINDS):
        raise ValueError(f"unknown high-value model {choose!r} (auto, rf or lgbm)")
    y = labels.reindex(features.index).fillna(False).astype(bool)
    if y.sum() < 10 or (~y).sum() < 10:
        raise InsufficientData(
            f"high-value model needs 10+ users in each class (got {int(y.sum())} positives)"
        )
    train_idx, test_idx = train_test_split(
        features.index.to_numpy(), test_size=test_share, stratify=y.to_numpy(), random_state=seed
    )
    train, test, y_test = features.loc[train_idx], features.loc[test_idx], y.loc[test_idx]
    models: dict[str, HighValueModel] = {}
    report: dict[str, Any] = {"models": {}, "n_train": len(train), "n_test": len(test)}
    for kind in HIGH_VALUE_KINDS if choose == "auto" else (choose,):
        model = HighValueModel(kind, seed=seed, n_estimators=n_estimators).fit(train, y.loc[train_idx])
        proba = model.predict_proba(test)
        models[kind] = model
        report["models"][kind] = binary_metrics(y_test, proba >= 0.5, proba) | {
            "top_features": [name for name, _ in model.importances(5)]
        }
    report["baseline"] = {"name": "RFM rule (top by past spend)"} | binary_metrics(
        y_test, rfm_rule(test, top_share)
    )
    report["positives_test"] = int(y_test.sum())
    kept = max(models, key=lambda k: report["models"][k]["auc"] or 0.0)
    report["chosen"] = kept
    report["reason"] = f"{HIGH_VALUE_KINDS[kept]}: held-out AUC {report['models'][kept]['auc']}" + (
        " (higher than "
        + ", ".join(f"{HIGH_VALUE_KINDS[k]} {m['auc']}" for k, m in report["models"].items() if k != kept)
        + ")"
        if len(models) > 1
        else " (chosen by option)"
    )
    return models[kept], report
