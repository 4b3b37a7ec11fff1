"""The profile pipeline: features → tags, tiers, lifecycle → segments → scores, written as derived tables.

``build_profiles`` replaces the ``profiles`` and ``segments`` tables in one transaction; every row
carries the data window and the model version it came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import InsufficientData
from liveloop.core.ids import new_id
from liveloop.profiles.btyd import BetaGeoFitter, GammaGammaFitter, rfm_summary
from liveloop.profiles.features import affinity, build_features, purchase_lines
from liveloop.profiles.segments import SegmentModel, describe_segment, name_segments
from liveloop.profiles.tags import (
    LifecycleRules,
    interest_tags,
    lifecycle_stage,
    previous_gap_days,
    value_tier,
)
from liveloop.profiles.value import HighValueModel, high_value_labels, next_window_value
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

Progress = Callable[[str, float], None]

#: Shortest purchase history BG/NBD is fitted on; shorter data cannot separate dropout from pauses.
MIN_BTYD_DAYS = 28

#: Feature columns stored in each profile (the hour histogram is stored as one list).
HOUR_COLUMNS = [f"h{h:02d}" for h in range(24)]


@dataclass(frozen=True)
class BuildOptions:
    cutoff: datetime | None = None
    window_days: float | None = None
    rules: LifecycleRules = field(default_factory=LifecycleRules)
    k_min: int = 3
    k_max: int = 8
    high_value_share: float = 0.2
    clv_weeks: float = 52.0
    seed: int = 0


def data_end(wh: Warehouse) -> datetime | None:
    """Just after the latest event or order: the default cutoff (all data)."""
    row = wh.sql("SELECT greatest((SELECT max(ts) FROM events), (SELECT max(ts) FROM orders))")
    latest = row[0][0] if row else None
    if latest is None:
        return None
    return latest.astimezone(UTC) + timedelta(microseconds=1)


def data_start(wh: Warehouse) -> datetime | None:
    row = wh.sql("SELECT least((SELECT min(ts) FROM events), (SELECT min(ts) FROM orders))")
    first = row[0][0] if row else None
    return first.astimezone(UTC) if first is not None else None


def _noop(stage: str, fraction: float) -> None:
    return None


def btyd_scores(wh: Warehouse, win: Window, weeks: float) -> pd.DataFrame:
    """Churn probability (1 - P(alive)) and CLV over ``weeks`` from BG/NBD + Gamma-Gamma, per buyer."""
    tx = purchase_lines(wh, win).select("user_id", "ts", "amount").to_pandas()
    if tx.empty:
        raise InsufficientData("no purchases in the window: churn and CLV need purchase history")
    tx["ts"] = pd.to_datetime(tx["ts"], utc=True)
    span_days = (pd.Timestamp(win.cutoff) - tx["ts"].min()).total_seconds() / 86400
    if span_days < MIN_BTYD_DAYS:
        raise InsufficientData(
            f"churn and CLV need at least {MIN_BTYD_DAYS} days of purchase history (got {span_days:.0f})"
        )
    unit = 7.0 if span_days >= 56 else 1.0  # weeks for long histories, days for short ones
    summ = rfm_summary(tx, pd.Timestamp(win.cutoff), amount="amount", freq_days=unit)
    bg = BetaGeoFitter().fit(summ["frequency"], summ["recency"], summ["T"])
    alive = bg.probability_alive(summ["frequency"], summ["recency"], summ["T"])
    expected = bg.expected_purchases(weeks * 7 / unit, summ["frequency"], summ["recency"], summ["T"])
    if tx["amount"].fillna(0).sum() <= 0:
        avg_value = np.full(len(summ), np.nan)  # no prices in the data: CLV is not computable
    else:
        try:
            gg = GammaGammaFitter().fit(summ["frequency"], summ["monetary_value"])
            avg_value = gg.expected_average_value(summ["frequency"], summ["monetary_value"])
        except InsufficientData:
            avg_value = tx.groupby("user_id")["amount"].mean().reindex(summ.index).fillna(0.0).to_numpy()
    return pd.DataFrame(
        {
            "churn_probability": 1.0 - alive,
            "expected_purchases": expected,
            "clv": expected * avg_value,
        },
        index=summ.index.astype(str),
    )


def high_value_scores(
    wh: Warehouse, win: Window, features: pd.DataFrame, opts: BuildOptions
) -> tuple[pd.Series, HighValueModel]:
    """Train on the previous window (cutoff - h, label = spend in [cutoff - h, cutoff)); score now."""
    start = data_start(wh)
    if start is None:
        raise InsufficientData("no events or orders")
    span = (win.cutoff - start).total_seconds() / 86400
    horizon = max(1.0, min(90.0, span / 4))
    past = Window.ending(win.cutoff - timedelta(days=horizon), opts.window_days, win.timezone)
    past_features = build_features(wh, past)
    value = next_window_value(wh, Window(cutoff=win.cutoff, start=past.cutoff, timezone=win.timezone))
    labels = high_value_labels(value, past_features.index, opts.high_value_share)
    model = HighValueModel("rf", seed=opts.seed, n_estimators=100).fit(past_features, labels)
    return model.predict_proba(features), model


def _segment_stats(
    features: pd.DataFrame, assigned: pd.Series, top_cats: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
    total = max(len(features), 1)
    for seg, idx in assigned.groupby(assigned).groups.items():
        f = features.loc[idx]
        hours = f[HOUR_COLUMNS].sum().to_numpy()
        cats = top_cats[top_cats["user_id"].isin(idx)].groupby("category")["score"].sum().nlargest(5)
        channels = f["best_channel"].dropna().value_counts().head(3)
        stats[str(seg)] = {
            "size": len(f),
            "share": len(f) / total,
            "monetary_total": float(f["monetary"].sum()),
            "monetary_mean": float(f["monetary"].mean()),
            "monetary_quartiles": [float(q) for q in f["monetary"].quantile([0.25, 0.5, 0.75])],
            "buyers_share": float((f["frequency"] > 0).mean()),
            "top_categories": [str(c) for c in cats.index],
            "preferred_channels": [str(c) for c in channels.index],
            "peak_hours": [int(h) for h in np.argsort(-hours)[:3]] if hours.sum() > 0 else [],
        }
    return stats


def _previous_centroids(wh: Warehouse) -> pd.DataFrame:
    rows = wh.sql("SELECT segment_id, centroid FROM segments")
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame({sid: json.loads(c) for sid, c in rows if c}).T


def build_profiles(
    wh: Warehouse,
    opts: BuildOptions | None = None,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build every user's profile and the segments; returns a summary (users, segments, version, notes)."""
    opts = opts or BuildOptions()
    models_dir = settings.models_dir if settings else wh.path.parent / "models"  # beside the warehouse
    settings = settings or get_settings()
    report = progress or _noop
    cutoff = opts.cutoff or data_end(wh) or datetime.now(UTC)
    win = Window.ending(cutoff, opts.window_days, settings.timezone)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + new_id("p")[-6:]
    notes: dict[str, str] = {}

    report("features", 0.05)
    features = build_features(wh, win)
    report("tags", 0.35)
    tags = interest_tags(wh, win).reindex(features.index)
    value = features["net_monetary"] if features["net_monetary"].sum() > 0 else features["frequency"]
    tiers = value_tier(value)
    stages = lifecycle_stage(features, previous_gap_days(wh, win), opts.rules)

    report("segments", 0.5)
    assigned = pd.Series(None, index=features.index, dtype=object)
    segment_rows: list[dict[str, Any]] = []
    try:
        model = SegmentModel(k_min=opts.k_min, k_max=opts.k_max, seed=opts.seed).fit(features)
        model.align_to(_previous_centroids(wh))
        assigned = model.predict(features)
        centroids = model.raw_centroids(features, assigned)
        names = name_segments(model.z_centroids())
        overall = features.reindex(columns=model.columns_).astype(float).fillna(model.fill_).mean()
        top_cats = affinity(wh, win, "category").to_pandas()
        stats = _segment_stats(features, assigned, top_cats)
        for sid in model.ids_:
            centre = pd.Series(centroids.loc[sid])
            zh, en = describe_segment(centre, overall)
            arch = names[sid]
            segment_rows.append(
                {
                    "segment_id": sid,
                    "name_zh": arch.name_zh,
                    "name_en": arch.name_en,
                    "description": json.dumps(
                        {"zh": zh, "en": en, "archetype": arch.key}, ensure_ascii=False
                    ),
                    "size": int(stats.get(sid, {}).get("size", 0)),
                    "centroid": json.dumps({str(k): float(v) for k, v in centre.to_dict().items()}),
                    "stats": json.dumps(stats.get(sid, {}) | {"silhouette": model.silhouettes_.get(model.k)}),
                }
            )
        path = models_dir / "segments" / version
        path.mkdir(parents=True, exist_ok=True)
        model.save(path / "model.pkl")
        meta = {
            "params": {"k": model.k, "columns": model.columns_, "seed": opts.seed},
            "metrics": {"silhouette": model.silhouettes_},
            "data_window": win.label(),
        }
        (path / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    except InsufficientData as exc:
        notes["segments"] = f"insufficient data: {exc.detail}"

    report("scores", 0.7)
    scores = pd.DataFrame(index=features.index)
    try:
        scores = scores.join(btyd_scores(wh, win, opts.clv_weeks))
    except InsufficientData as exc:
        notes["churn_clv"] = f"insufficient data: {exc.detail}"
    try:
        proba, _ = high_value_scores(wh, win, features, opts)
        scores["high_value_probability"] = proba
    except InsufficientData as exc:
        notes["high_value"] = f"insufficient data: {exc.detail}"

    report("write", 0.9)
    _write(wh, features, tags, tiers, stages, assigned, scores, segment_rows, win, version, notes, opts)
    report("done", 1.0)
    return {
        "users": len(features),
        "segments": len(segment_rows),
        "model_version": version,
        "data_window": win.label(),
        "notes": notes,
    }


def _write(
    wh: Warehouse,
    features: pd.DataFrame,
    tags: pd.Series,
    tiers: pd.Series,
    stages: pd.Series,
    assigned: pd.Series,
    scores: pd.DataFrame,
    segment_rows: list[dict[str, Any]],
    win: Window,
    version: str,
    notes: dict[str, str],
    opts: BuildOptions,
) -> None:
    feats = features.drop(columns=HOUR_COLUMNS).copy()
    feats["active_hours"] = list(np.round(features[HOUR_COLUMNS].to_numpy(), 4))
    feats = feats.reset_index()
    sc = scores.reindex(features.index).rename_axis("user_id").reset_index()
    meta = pd.DataFrame(
        {
            "user_id": features.index,
            "tags": [list(t) if isinstance(t, list) else [] for t in tags.reindex(features.index)],
            "value_tier": tiers.reindex(features.index).to_numpy(),
            "lifecycle": stages.reindex(features.index).to_numpy(),
            "segment_id": assigned.reindex(features.index).to_numpy(),
        }
    )
    segs = pd.DataFrame(
        segment_rows, columns=["segment_id", "name_zh", "name_en", "description", "size", "centroid", "stats"]
    )
    with wh.transaction() as con:
        con.register("_feats", feats)
        con.register("_scores", sc)
        con.register("_meta", meta)
        con.register("_segs", segs)
        try:
            con.execute("DELETE FROM profiles")
            con.execute(
                "INSERT INTO profiles (user_id, features, tags, value_tier, lifecycle, segment_id, scores, "
                "data_window, model_version) "
                "SELECT m.user_id, to_json(f), m.tags, m.value_tier, m.lifecycle, m.segment_id, "
                "json_remove(to_json(s), '$.user_id'), ?, ? "
                "FROM _meta m JOIN _feats f USING (user_id) JOIN _scores s USING (user_id)",
                [win.label(), version],
            )
            con.execute("DELETE FROM segments")
            con.execute(
                "INSERT INTO segments (segment_id, name_zh, name_en, description, size, centroid, stats, "
                "data_window, model_version) "
                "SELECT segment_id, name_zh, name_en, description, size, centroid, stats, ?, ? FROM _segs",
                [win.label(), version],
            )
            con.execute("UPDATE model_versions SET active = FALSE WHERE name = 'profiles'")
            con.execute(
                "INSERT INTO model_versions (name, version, active, metrics, params, data_window) "
                "VALUES ('profiles', ?, TRUE, ?, ?, ?)",
                [
                    version,
                    json.dumps({"users": len(features), "segments": len(segment_rows), "notes": notes}),
                    json.dumps(asdict(opts), default=str),
                    win.label(),
                ],
            )
        finally:
            for name in ("_feats", "_scores", "_meta", "_segs"):
                con.unregister(name)
