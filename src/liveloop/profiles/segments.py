"""K-means segments on standardised features: K by silhouette, stable labels across rebuilds, and names and
descriptions from what sets each segment apart, checked against its members' value tiers and lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from liveloop.core.errors import InsufficientData
from liveloop.datasets.simulator.config import CATEGORIES as SIM_CATEGORIES
from liveloop.profiles.tags import LIFECYCLE_NAMES
from liveloop.warehouse.artifacts import Pickled

if TYPE_CHECKING:  # scikit-learn loads when segments are fitted, not when their names are read
    from sklearn.cluster import KMeans

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

#: Smallest standardised mean difference (segment vs everyone) that makes a feature a segment's trait.
TRAIT_SMD = 0.3
#: Smallest ratio of the segment's mean to everyone's for a trait (its inverse bounds a shortfall).
TRAIT_RATIO = 1.1
#: Share of the members a name that claims a value tier, a lifecycle stage or buying must hold for.
MAJORITY = 0.5


@dataclass(frozen=True)
class SegmentProfile:
    """What sets a segment's members apart from everyone: per segment feature the standardised mean
    difference (``smd``, on the log1p scale of heavy-tailed features; left out where fewer than half the
    members have a value), the members' mean, its ratio to everyone's mean and the share of members above
    zero (``nonzero``); and the shares of value
    tiers, lifecycle stages and buyers among the members."""

    size: int
    smd: dict[str, float]
    mean: dict[str, float]
    ratio: dict[str, float]
    nonzero: dict[str, float]
    tiers: dict[str, float]
    stages: dict[str, float]
    buyers: float

    @property
    def traits(self) -> list[str]:
        """Features the segment has clearly more of than everyone (never one it has at 0), largest first."""
        found = [
            c
            for c, d in self.smd.items()
            if d >= TRAIT_SMD and self.mean.get(c, 0.0) > 0 and self.ratio.get(c, 0.0) >= TRAIT_RATIO
        ]
        return sorted(found, key=lambda c: -self.smd[c])

    @property
    def shortfalls(self) -> list[str]:
        """Features the segment has clearly less of, but most members above zero; largest difference first."""
        found = [
            c
            for c, d in self.smd.items()
            if d <= -TRAIT_SMD
            and self.nonzero.get(c, 0.0) >= MAJORITY
            and self.ratio.get(c, 1.0) <= 1 / TRAIT_RATIO
        ]
        return sorted(found, key=lambda c: self.smd[c])

    def d(self, name: str) -> float:
        return self.smd.get(name, 0.0)

    def has(self, *names: str) -> bool:
        traits = self.traits
        return any(n in traits for n in names)

    def tier(self, *names: str) -> float:
        return sum(self.tiers.get(n, 0.0) for n in names)

    def stage(self, *names: str) -> float:
        return sum(self.stages.get(n, 0.0) for n in names)


def profile_segments(
    features: pd.DataFrame, assigned: pd.Series, tiers: pd.Series, stages: pd.Series
) -> dict[str, SegmentProfile]:
    """Each segment's :class:`SegmentProfile` against every user (one grouped pass, no loop over users)."""
    cols = [c for c in SEGMENT_FEATURES if c in features.columns]
    raw = features[cols].astype(float)
    scaled = raw.copy()
    for c in cols:
        if c in _LOG_FEATURES:
            scaled[c] = np.log1p(raw[c].clip(lower=0))
    mu, sd, everyone = scaled.mean(), scaled.std(ddof=0), raw.mean()
    seg = assigned.reindex(features.index).rename("segment")
    seg_scaled, seg_raw = scaled.groupby(seg).mean(), raw.groupby(seg).mean()
    coverage = raw.notna().groupby(seg).mean()
    nonzero = (raw > 0).groupby(seg).mean()
    tier_share = pd.crosstab(seg, tiers.reindex(features.index).rename("tier"), normalize="index")
    stage_share = pd.crosstab(seg, stages.reindex(features.index).rename("stage"), normalize="index")
    buyers = (features["frequency"].fillna(0) > 0).groupby(seg).mean()
    sizes = seg.value_counts()
    out = {}
    for sid in seg_scaled.index:
        smd = {
            c: float((seg_scaled.at[sid, c] - mu[c]) / sd[c])
            for c in cols
            if sd[c] > 1e-12 and coverage.at[sid, c] >= MAJORITY and pd.notna(seg_scaled.at[sid, c])
        }
        mean = {c: float(seg_raw.at[sid, c]) for c in cols if pd.notna(seg_raw.at[sid, c])}
        out[str(sid)] = SegmentProfile(
            size=int(sizes[sid]),
            smd=smd,
            mean=mean,
            ratio={c: v / float(everyone[c]) for c, v in mean.items() if everyone[c] > 0},
            nonzero={c: float(nonzero.at[sid, c]) for c in cols},
            tiers={str(k): float(v) for k, v in tier_share.loc[sid].items()},
            stages={str(k): float(v) for k, v in stage_share.loc[sid].items()},
            buyers=float(buyers[sid]),
        )
    return out


@dataclass(frozen=True)
class Archetype:
    """A segment name with the rule it must pass: ``fits`` (what the name claims holds for the segment)
    and ``score`` (how strongly, to choose among the names that fit)."""

    key: str
    name_zh: str
    name_en: str
    fits: Callable[[SegmentProfile], bool]
    score: Callable[[SegmentProfile], float]


_ACTIVITY = ("events", "active_days", "views", "frequency", "watch_minutes", "social_actions")

#: Named segment archetypes; each segment gets the distinct fitting archetype that scores best overall.
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "high_value_loyal",
        "高价值忠诚",
        "High-value loyal",
        lambda p: p.tier("high") >= MAJORITY and p.stage("loyal", "active", "won_back") >= MAJORITY,
        lambda p: 3 + p.d("monetary") + p.d("frequency"),
    ),
    Archetype(
        "high_value",
        "高价值",
        "High value",
        lambda p: p.tier("high") >= MAJORITY,
        lambda p: 2 + p.d("monetary") + p.d("frequency"),
    ),
    Archetype(
        "loyal",
        "忠诚复购",
        "Loyal repeat buyers",
        lambda p: p.stage("loyal") >= MAJORITY,
        lambda p: 2 + p.d("frequency"),
    ),
    Archetype(
        "dormant",
        "沉睡用户",
        "Dormant",
        lambda p: p.stage("at_risk", "churned") >= MAJORITY,
        lambda p: 2 + p.stage("at_risk", "churned"),
    ),
    Archetype(
        "price_sensitive",
        "价格敏感",
        "Price-sensitive",
        lambda p: p.buyers >= MAJORITY and p.has("price_sensitivity", "coupon_rate"),
        lambda p: 1 + max(p.d("price_sensitivity"), p.d("coupon_rate")),
    ),
    Archetype(
        "impulse",
        "冲动型",
        "Impulse buyers",
        lambda p: p.buyers >= MAJORITY and p.has("conversion_rate") and not p.has("views"),
        lambda p: 1 + p.d("conversion_rate") - 0.5 * max(p.d("views"), 0.0),
    ),
    Archetype(
        "active_buyers",
        "活跃买家",
        "Active buyers",
        lambda p: p.buyers >= MAJORITY and p.has("frequency"),
        lambda p: 1 + p.d("frequency"),
    ),
    Archetype(
        "engaged_fans",
        "互动达人",
        "Engaged fans",
        lambda p: p.has("social_actions", "gift_amount"),
        lambda p: 1 + max(p.d("social_actions"), p.d("gift_amount")),
    ),
    Archetype(
        "silent_viewers",
        "潜水观众",
        "Silent viewers",
        lambda p: p.has("watch_minutes") and not p.has("social_actions", "gift_amount"),
        lambda p: 1 + p.d("watch_minutes") - max(p.d("social_actions"), 0.0),
    ),
    Archetype(
        "window_shoppers",
        "浏览加购型",
        "Window shoppers",
        lambda p: p.buyers < MAJORITY and p.has("carts", "favorites"),
        lambda p: 1 + max(p.d("carts"), p.d("favorites")),
    ),
    Archetype(
        "explorers",
        "多品类探索",
        "Category explorers",
        lambda p: p.has("n_categories"),
        lambda p: 1 + p.d("n_categories"),
    ),
    Archetype(
        "new_customers",
        "新客",
        "New customers",
        lambda p: p.stage("new") >= MAJORITY,
        lambda p: 0.5 + p.stage("new"),
    ),
    Archetype(
        "light",
        "轻度用户",
        "Light users",
        lambda p: p.d("events") < 0 and not p.has(*_ACTIVITY),
        lambda p: 0.5 - p.d("events"),
    ),
)

#: How each segment feature is named in descriptions: feature -> (zh, en).
FEATURE_LABELS = {
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


#: Display names of the built-in live-commerce category codes (the simulator's catalogue): code -> (zh, en).
CATEGORY_NAMES: dict[str, tuple[str, str]] = {code: (zh, en) for code, zh, en, *_ in SIM_CATEGORIES}


def category_name(code: str, lang: str = "en") -> str:
    """A category as people read it: its name where one is known (``beauty`` -> 美妆 / Beauty), else as
    stored (e.g. Taobao's numeric category ids, which carry no names)."""
    names = CATEGORY_NAMES.get(code)
    return code if names is None else names[0 if lang == "zh" else 1]


def _matrix(features: pd.DataFrame, columns: list[str], fill: dict[str, float]) -> np.ndarray:
    x = features.reindex(columns=columns).astype(float).fillna(fill)
    for c in columns:
        if c in _LOG_FEATURES:
            x[c] = np.log1p(x[c].clip(lower=0))
    return x.to_numpy()


@dataclass
class SegmentModel(Pickled):
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
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

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


@dataclass(frozen=True)
class SegmentName:
    key: str
    name_zh: str
    name_en: str


def _fallback(profile: SegmentProfile, taken: set[str]) -> SegmentName:
    """A name from the segment's largest trait, else "Regular users" (numbered when taken)."""
    for col in profile.traits:
        zh, en = FEATURE_LABELS[col]
        name = SegmentName(f"high_{col}", f"{zh}偏高", f"Above-average {en}")
        if name.name_en not in taken:
            return name
    name, n = SegmentName("regular", "普通用户", "Regular users"), 1
    while name.name_en in taken:
        n += 1
        name = SegmentName(f"regular_{n}", f"普通用户{n}", f"Regular users {n}")
    return name


def name_segments(profiles: dict[str, SegmentProfile]) -> dict[str, SegmentName]:
    """A distinct name for each segment: the Hungarian assignment of archetypes that fit (the name's claim
    holds) maximising their scores; a segment no archetype fits is named after its largest trait."""
    ids = list(profiles)
    fits = np.array([[a.fits(profiles[s]) for a in ARCHETYPES] for s in ids], dtype=bool)
    scores = np.array([[a.score(profiles[s]) for a in ARCHETYPES] for s in ids], dtype=float)
    rows, cols = linear_sum_assignment(-np.where(fits, scores, -1e6))
    out: dict[str, SegmentName] = {}
    for r, c in zip(rows, cols, strict=True):
        if fits[r, c]:
            a = ARCHETYPES[c]
            out[ids[r]] = SegmentName(a.key, a.name_zh, a.name_en)
    taken = {n.name_en for n in out.values()}
    for sid in ids:
        if sid not in out:
            out[sid] = _fallback(profiles[sid], taken)
            taken.add(out[sid].name_en)
    return out


def _times(ratio: float) -> str:
    return f"{ratio:.1f}" if ratio >= 0.1 else f"{ratio:.2g}"


def describe_segment(profile: SegmentProfile, top: int = 3) -> tuple[str, str]:
    """Bilingual one-liner of what sets a segment apart: its ``top`` largest traits as a multiple of the
    average (or, without one, its largest shortfalls; or how many members did nothing in the window), then
    the lifecycle stage most members are in. A feature the segment has at zero is never named."""
    cols = profile.traits[:top] or profile.shortfalls[:top]
    times = {c: _times(profile.ratio[c]) for c in cols}
    zh = "，".join(f"{FEATURE_LABELS[c][0]}为平均的{times[c]}倍" for c in cols)
    en = ", ".join(f"{FEATURE_LABELS[c][1]} {times[c]}x average" for c in cols)
    idle = 1.0 - profile.nonzero.get("events", 1.0)
    if not cols and idle >= MAJORITY:
        zh, en = f"{idle:.0%}在窗口内无任何行为", f"{idle:.0%} without any activity in the window"
    zh, en = zh or "与平均用户相近", en or "close to the average user"
    stage, share = max(profile.stages.items(), key=lambda kv: kv[1], default=("", 0.0))
    if share >= MAJORITY and stage in LIFECYCLE_NAMES:
        stage_zh, stage_en = LIFECYCLE_NAMES[stage]
        zh += f"；{share:.0%}为{stage_zh}"
        en += f"; {share:.0%} {stage_en.lower()}"
    return zh, en
