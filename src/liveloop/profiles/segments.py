"""K-means segments on standardised features: K by silhouette, stable labels across rebuilds, names."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from liveloop.core.errors import InsufficientData

#: Features segments are built on; heavy-tailed ones are log1p-transformed before scaling.
SEGMENT_FEATURES = (
    "frequency",
    "monetary",
    "aov",
    "recency_days",
    "events",
    "views",
    "carts",
    "favorites",
    "conversion_rate",
    "watch_minutes",
    "social_actions",
    "gift_amount",
    "price_sensitivity",
    "coupon_rate",
    "active_days",
    "n_categories",
)
_LOG_FEATURES = {
    "frequency",
    "monetary",
    "aov",
    "events",
    "views",
    "carts",
    "favorites",
    "watch_minutes",
    "social_actions",
    "gift_amount",
    "active_days",
    "n_categories",
}

Z = dict[str, float]


def _z(z: Z, name: str) -> float:
    return z.get(name, 0.0)


@dataclass(frozen=True)
class Archetype:
    key: str
    name_zh: str
    name_en: str
    score: Callable[[Z], float]


#: Named segment archetypes; each cluster gets the distinct archetype its centroid fits best.
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "high_value_loyal",
        "高价值忠诚",
        "High-value loyal",
        lambda z: _z(z, "monetary") + _z(z, "frequency") - 0.5 * _z(z, "recency_days"),
    ),
    Archetype(
        "price_sensitive",
        "价格敏感",
        "Price-sensitive",
        lambda z: _z(z, "price_sensitivity") + _z(z, "coupon_rate"),
    ),
    Archetype(
        "impulse",
        "冲动型",
        "Impulse buyers",
        lambda z: _z(z, "conversion_rate") + 0.5 * _z(z, "aov") - 0.5 * _z(z, "views"),
    ),
    Archetype(
        "silent_viewers",
        "潜水观众",
        "Silent viewers",
        lambda z: (
            _z(z, "watch_minutes") + 0.5 * _z(z, "views") - _z(z, "social_actions") - 0.5 * _z(z, "frequency")
        ),
    ),
    Archetype(
        "engaged_fans", "互动达人", "Engaged fans", lambda z: _z(z, "social_actions") + _z(z, "gift_amount")
    ),
    Archetype(
        "window_shoppers",
        "浏览加购型",
        "Window shoppers",
        lambda z: 0.5 * (_z(z, "views") + _z(z, "carts") + _z(z, "favorites")) - _z(z, "frequency"),
    ),
    Archetype(
        "dormant",
        "沉睡用户",
        "Dormant",
        lambda z: _z(z, "recency_days") - 0.5 * _z(z, "events") - 0.5 * _z(z, "active_days"),
    ),
    Archetype(
        "explorers",
        "多品类探索",
        "Category explorers",
        lambda z: _z(z, "n_categories") - 0.3 * _z(z, "frequency"),
    ),
    Archetype(
        "light",
        "轻度用户",
        "Light users",
        lambda z: -0.3 * (_z(z, "events") + _z(z, "frequency") + _z(z, "active_days")),
    ),
    Archetype("regular", "普通用户", "Regular users", lambda z: 0.0),
    Archetype("regular_b", "普通用户B", "Regular users B", lambda z: -0.01),
    Archetype("regular_c", "普通用户C", "Regular users C", lambda z: -0.02),
)

_DESCRIBE = {
    "monetary": ("消费金额", "spend"),
    "frequency": ("购买次数", "purchases"),
    "aov": ("客单价", "order value"),
    "recency_days": ("距上次购买天数", "days since last purchase"),
    "events": ("行为数", "events"),
    "views": ("浏览", "views"),
    "carts": ("加购", "add-to-carts"),
    "favorites": ("收藏", "favourites"),
    "conversion_rate": ("转化率", "conversion"),
    "watch_minutes": ("观看时长", "watch time"),
    "social_actions": ("互动", "interactions"),
    "gift_amount": ("打赏", "gifts"),
    "price_sensitivity": ("价格敏感度", "price sensitivity"),
    "coupon_rate": ("用券率", "coupon use"),
    "active_days": ("活跃天数", "active days"),
    "n_categories": ("品类数", "categories"),
}


def _matrix(features: pd.DataFrame, columns: list[str], fill: dict[str, float]) -> np.ndarray:
    x = features.reindex(columns=columns).astype(float).fillna(fill)
    for c in columns:
        if c in _LOG_FEATURES:
            x[c] = np.log1p(x[c].clip(lower=0))
    return x.to_numpy()


@dataclass
class SegmentModel:
    """K-means on standardised segment features. ``fit`` picks K by silhouette in ``[k_min, k_max]``
    (scored on a seeded sample of ``silhouette_sample`` users)."""

    k_min: int = 3
    k_max: int = 8
    seed: int = 0
    silhouette_sample: int = 5000
    fit_sample: int = 20_000
    columns_: list[str] = field(default_factory=list)
    fill_: dict[str, float] = field(default_factory=dict)
    mean_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kmeans_: KMeans | None = None
    silhouettes_: dict[int, float] = field(default_factory=dict)
    ids_: list[str] = field(default_factory=list)

    def _transform(self, features: pd.DataFrame) -> np.ndarray:
        return (_matrix(features, self.columns_, self.fill_) - self.mean_) / self.scale_

    def fit(self, features: pd.DataFrame) -> SegmentModel:
        """Scale on every user; fit the candidate K on a seeded sample of at most ``fit_sample`` users."""
        cols = [c for c in SEGMENT_FEATURES if c in features.columns]
        self.fill_ = {c: float(features[c].median()) if features[c].notna().any() else 0.0 for c in cols}
        if "recency_days" in cols:  # never bought: as far back as anyone
            self.fill_["recency_days"] = (
                float(features["recency_days"].max()) if features["recency_days"].notna().any() else 0.0
            )
        raw = _matrix(features, cols, self.fill_)
        std = raw.std(axis=0)
        keep = std > 1e-9
        self.columns_ = [c for c, k in zip(cols, keep, strict=True) if k]
        rng = np.random.default_rng(self.seed)
        fit_rows = raw[:, keep]
        if len(fit_rows) > self.fit_sample:
            fit_rows = fit_rows[rng.choice(len(fit_rows), self.fit_sample, replace=False)]
        distinct = len(np.unique(fit_rows, axis=0)) if keep.any() else 1
        if not self.columns_ or distinct < self.k_min + 1:
            raise InsufficientData(
                f"segments need {self.k_min + 1}+ distinct users with varying behaviour (got {distinct})"
            )
        self.mean_, self.scale_ = raw[:, keep].mean(axis=0), std[keep]
        x = (fit_rows - self.mean_) / self.scale_
        sample = (
            x
            if len(x) <= self.silhouette_sample
            else x[rng.choice(len(x), self.silhouette_sample, replace=False)]
        )
        best: tuple[float, KMeans] | None = None
        for k in range(self.k_min, min(self.k_max, distinct - 1) + 1):
            km = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit(x)
            labels = km.predict(sample)
            score = float(silhouette_score(sample, labels)) if len(set(labels)) > 1 else -1.0
            self.silhouettes_[k] = score
            if best is None or score > best[0] + 1e-9:
                best = (score, km)
        assert best is not None
        self.kmeans_ = best[1]
        self.ids_ = [f"S{i + 1}" for i in range(self.kmeans_.n_clusters)]
        return self

    @property
    def k(self) -> int:
        return len(self.ids_)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Segment id of every user."""
        if self.kmeans_ is None:
            raise InsufficientData("the segment model is not fitted")
        labels = self.kmeans_.predict(self._transform(features))
        return pd.Series(np.asarray(self.ids_)[labels], index=features.index)

    def raw_centroids(self, features: pd.DataFrame, assigned: pd.Series) -> pd.DataFrame:
        """Mean of each segment feature per segment, in the features' own units."""
        x = features.reindex(columns=self.columns_).astype(float).fillna(self.fill_)
        return x.groupby(assigned).mean().reindex(self.ids_)

    def z_centroids(self) -> pd.DataFrame:
        assert self.kmeans_ is not None
        return pd.DataFrame(self.kmeans_.cluster_centers_, index=self.ids_, columns=self.columns_)

    def align_to(self, previous: pd.DataFrame) -> dict[str, str]:
        """Relabel clusters to match ``previous`` raw centroids (Hungarian on distance); returns old->new map.

        Clusters matched to a previous segment inherit its id; the rest get fresh ids.
        """
        if previous.empty or self.kmeans_ is None:
            return {}
        prev = previous.reindex(columns=self.columns_)
        prev = prev.fillna(pd.Series(self.fill_))
        prev_z = (_matrix(prev, self.columns_, self.fill_) - self.mean_) / self.scale_
        cost = np.linalg.norm(self.kmeans_.cluster_centers_[:, None, :] - prev_z[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        new_ids = list(self.ids_)
        for r, c in zip(rows, cols, strict=True):
            new_ids[r] = str(previous.index[c])
        used = set(previous.index.astype(str))
        n = 1
        matched = set(rows.tolist())
        for i in range(len(new_ids)):
            if i not in matched:
                while f"S{n}" in used:
                    n += 1
                new_ids[i] = f"S{n}"
                used.add(f"S{n}")
        mapping = dict(zip(self.ids_, new_ids, strict=True))
        self.ids_ = new_ids
        return mapping

    def save(self, path: Path) -> None:
        Path(path).write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: Path) -> SegmentModel:
        model = pickle.loads(Path(path).read_bytes())
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a SegmentModel")
        return model


def name_segments(z_centroids: pd.DataFrame) -> dict[str, Archetype]:
    """A distinct archetype for each segment: Hungarian assignment maximising the archetypes' scores."""
    zs = [dict(row) for _, row in z_centroids.iterrows()]
    scores = np.array([[a.score(z) for a in ARCHETYPES] for z in zs])
    rows, cols = linear_sum_assignment(-scores)
    return {str(z_centroids.index[r]): ARCHETYPES[c] for r, c in zip(rows, cols, strict=True)}


def describe_segment(centroid: pd.Series, overall: pd.Series, top: int = 3) -> tuple[str, str]:
    """Bilingual one-liner of what sets a segment apart: its most different features vs the average."""
    parts_zh, parts_en = [], []
    ratios = {}
    for col in centroid.index:
        base = overall.get(col, np.nan)
        if col in _DESCRIBE and pd.notna(base) and base > 0:
            ratios[col] = float(centroid[col]) / float(base)
    ranked = sorted(ratios.items(), key=lambda kv: abs(np.log(max(kv[1], 1e-3))), reverse=True)[:top]
    for col, ratio in ranked:
        zh, en = _DESCRIBE[col]
        parts_zh.append(f"{zh}为平均的{ratio:.1f}倍")
        parts_en.append(f"{en} {ratio:.1f}x average")
    if not parts_en:
        return "与平均用户相近", "close to the average user"
    return "，".join(parts_zh), ", ".join(parts_en)
