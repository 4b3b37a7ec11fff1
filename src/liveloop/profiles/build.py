"""The profile pipeline: features → tags, tiers, lifecycle → segments → scores → interest and similar-user
models, written as derived tables and model artifacts.

``build_profiles`` replaces the ``profiles`` and ``segments`` tables and activates the new model versions
(segments, high_value, interest, similar_users under ``LIVELOOP_HOME/models/``) in one transaction;
every row carries the data window and the build version. Per-user work is vectorised (DuckDB, NumPy);
models that train on users read a bounded, hash-chosen sample of them, and DuckDB runs under a memory
limit, so time and memory grow linearly with the data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import InsufficientData
from liveloop.core.ids import new_id
from liveloop.core.types import Purpose
from liveloop.privacy import audit, consent
from liveloop.privacy.audit import AuditEntry
from liveloop.profiles import artifacts
from liveloop.profiles.artifacts import Artifact
from liveloop.profiles.btyd import BetaGeoFitter, GammaGammaFitter, rfm_summary
from liveloop.profiles.features import (
    affinity,
    build_features,
    interaction_totals,
    interest_events,
    product_affinity,
    purchase_lines,
)
from liveloop.profiles.interest import InterestModel, holdout_cases, recency_baseline, sequences
from liveloop.profiles.segments import (
    SegmentModel,
    SegmentProfile,
    category_name,
    describe_segment,
    name_segments,
    profile_segments,
)
from liveloop.profiles.similar import SimilarUsers, neighbour_holdout
from liveloop.profiles.tags import (
    LifecycleRules,
    interest_tags,
    lifecycle_stage,
    previous_gap_days,
    value_tier,
)
from liveloop.profiles.value import HIGH_VALUE_KINDS, fit_high_value, high_value_labels, next_window_value
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse
from liveloop.warehouse.spark import check_engine, open_lake

Progress = Callable[[str, float], None]

#: Shortest purchase history BG/NBD is fitted on; shorter data cannot separate dropout from pauses.
MIN_BTYD_DAYS = 28

#: Feature columns stored in each profile (the hour histogram is stored as one list).
HOUR_COLUMNS = [f"h{h:02d}" for h in range(24)]


#: A DuckDB memory limit as a build accepts it (it goes into ``SET memory_limit``).
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


@dataclass(frozen=True)
class BuildOptions:
    """What a build uses. ``high_value_model``: 'auto' (the higher held-out AUC of RF and LightGBM),
    'rf' or 'lgbm'; ``interest_arch``: 'lstm' or 'attention'; ``memory_limit``: DuckDB's limit during the
    build ('auto' = the smaller of 3 GB and 40% of RAM; None leaves it as is)."""

    cutoff: datetime | None = None
    window_days: float | None = None
    rules: LifecycleRules = field(default_factory=LifecycleRules)
    rules_source: str = "defaults"
    k_min: int = 3
    k_max: int = 8
    high_value_share: float = 0.2
    high_value_model: str = "auto"
    interest_arch: str = "lstm"
    clv_weeks: float = 52.0
    max_train_users: int = 100_000
    interest_users: int = 5_000
    memory_limit: str | None = "auto"
    seed: int = 0
    #: Where the features and tags are computed: ``duckdb`` (the warehouse) or ``spark`` (the Parquet lake,
    #: refreshed from the warehouse first, on ``Settings.spark_master``); the models run here either way.
    engine: str = "duckdb"

    def __post_init__(self) -> None:
        from liveloop.core.errors import ValidationFailed

        if self.high_value_model not in ("auto", *HIGH_VALUE_KINDS):
            raise ValidationFailed(
                f"high-value model must be auto, rf or lgbm, got {self.high_value_model!r}",
                field="high_value_model",
            )
        if self.interest_arch not in ("lstm", "attention"):
            raise ValidationFailed(
                f"interest model must be lstm or attention, got {self.interest_arch!r}", field="interest_arch"
            )
        if not 3 <= self.k_min <= self.k_max:
            raise ValidationFailed("segment bounds need 3 <= k_min <= k_max", field="k_max")
        check_engine(self.engine)
        limit = self.memory_limit
        if limit not in (None, "auto") and not _MEMORY.fullmatch(str(limit)):
            raise ValidationFailed(
                f"memory limit must look like 4GB or 512MB (or auto), got {limit!r}", field="memory_limit"
            )


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


def _sample_share(n_users: int, wanted: int) -> float | None:
    """The user share a bounded fit reads (None: everyone)."""
    return None if n_users <= wanted else wanted / n_users


def btyd_scores(
    wh: Warehouse, win: Window, weeks: float, max_fit: int = 200_000, seed: int = 0
) -> pd.DataFrame:
    """Churn probability (1 - P(alive)) and CLV over ``weeks`` from BG/NBD + Gamma-Gamma, per buyer.

    The population parameters are fitted on a seeded sample of at most ``max_fit`` buyers; every buyer
    is scored."""
    tx = purchase_lines(wh, win).select("user_id", "ts", "amount").to_pyarrow().to_pandas()
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
    fit = summ if len(summ) <= max_fit else summ.sample(max_fit, random_state=seed)
    bg = BetaGeoFitter().fit(fit["frequency"], fit["recency"], fit["T"])
    alive = bg.probability_alive(summ["frequency"], summ["recency"], summ["T"])
    expected = bg.expected_purchases(weeks * 7 / unit, summ["frequency"], summ["recency"], summ["T"])
    if tx["amount"].fillna(0).sum() <= 0:
        avg_value = np.full(len(summ), np.nan)  # no prices in the data: CLV is not computable
    else:
        try:
            gg = GammaGammaFitter().fit(fit["frequency"], fit["monetary_value"])
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


def _horizon_days(wh: Warehouse, win: Window) -> float:
    """A quarter of the data span (at most 90 days): the label window of the high-value model."""
    start = data_start(wh)
    if start is None:
        raise InsufficientData("no events or orders")
    span = (win.cutoff - start).total_seconds() / 86400
    return max(1.0, min(90.0, span / 4))


def high_value_scores(
    wh: Warehouse, win: Window, features: pd.DataFrame, opts: BuildOptions
) -> tuple[pd.Series, Any, dict[str, Any]]:
    """Train on the previous window (cutoff - h, label = spend in [cutoff - h, cutoff)) for a bounded user
    sample, compare RF and LightGBM on held-out users, score everyone now with the kept model."""
    horizon = _horizon_days(wh, win)
    share = _sample_share(len(features), opts.max_train_users)
    past = replace(
        Window.ending(win.cutoff - timedelta(days=horizon), opts.window_days, win.timezone, share),
        refused=win.refused,
    )
    past_features = build_features(wh, past)
    value = next_window_value(wh, replace(win, start=past.cutoff, sample=None))
    labels = high_value_labels(value, past_features.index, opts.high_value_share)
    model, report = fit_high_value(
        past_features,
        labels,
        choose=opts.high_value_model,
        top_share=opts.high_value_share,
        seed=opts.seed,
    )
    report |= {"horizon_days": round(horizon, 2), "train_users_share": share or 1.0}
    return model.predict_proba(features), model, report


def fit_interest(wh: Warehouse, win: Window, n_active: int, opts: BuildOptions) -> tuple[InterestModel, dict]:
    """The next-category model on the recent events of a bounded user sample: measured on the last quarter
    of the span (trained before it), then refitted on all of it."""
    share = _sample_share(n_active, opts.interest_users)
    ev = interest_events(wh, replace(win, sample=share))
    ranked = ev.mutate(_r=ibis.row_number().over(group_by=ev.user_id, order_by=[ev.ts.desc(), ev.ref.desc()]))
    events = ranked.filter(ranked._r < 100).drop("_r").to_pyarrow().to_pandas()
    if events.empty:
        raise InsufficientData("no events with a category: real-time interest needs them")
    split = pd.Timestamp(win.cutoff) - pd.Timedelta(days=_horizon_days(wh, win))
    kwargs = {"arch": opts.interest_arch, "seed": opts.seed}
    train, contexts, truth = holdout_cases(events, split, seed=opts.seed)
    held_out = InterestModel(**kwargs).fit(train).evaluate(contexts, truth)  # type: ignore[arg-type]
    model = InterestModel(**kwargs).fit(sequences(events))  # type: ignore[arg-type]
    metrics = held_out | {
        "baseline": {"name": "repeat last category / last 5 distinct"} | recency_baseline(contexts, truth),
        "n_test": len(truth),
        "users": int(events["user_id"].nunique()),
        "split": split.isoformat(),
        "metric_note": "accuracy = top-1, recall = hit@5, F1 = macro F1 of top-1",
    }
    return model, metrics


def fit_similar(
    wh: Warehouse, win: Window, opts: BuildOptions, totals: Any = None
) -> tuple[SimilarUsers, dict[str, Any]]:
    """Implicit ALS on every user's product interactions; held-out recall of neighbour-based items
    on a bounded user sample (trained before the last quarter of the span, tested on it)."""
    aff = product_affinity(wh, win, totals)
    table = aff.select("user_id", item=aff.product_id, weight=aff.score).to_pyarrow()
    if table.num_rows == 0:
        raise InsufficientData("no product interactions: similar users need them")
    model = SimilarUsers(seed=opts.seed, keep_matrix=False).fit(table)
    split = win.cutoff - timedelta(days=_horizon_days(wh, win))
    share = _sample_share(len(model.users_), 10_000)
    before = replace(win, cutoff=split, sample=share)
    after = replace(win, start=split, sample=share)
    metrics: dict[str, Any] = {
        "users": len(model.users_),
        "items": len(model.items_),
        "interactions": table.num_rows,
    }
    try:
        metrics |= neighbour_holdout(
            _as_interactions(product_affinity(wh, before)),
            _as_interactions(product_affinity(wh, after)),
            seed=opts.seed,
        )
        metrics["split"] = split.isoformat()
    except InsufficientData as exc:
        metrics["held_out"] = f"insufficient data: {exc.detail}"
    return model, metrics


def _as_interactions(expr: Any) -> pd.DataFrame:
    return expr.to_pyarrow().to_pandas().rename(columns={"product_id": "item", "score": "weight"})


def _segment_stats(
    wh: Warehouse,
    win: Window,
    features: pd.DataFrame,
    assigned: pd.Series,
    profiles: dict[str, SegmentProfile],
    totals: Any = None,
) -> dict[str, dict[str, Any]]:
    """Per segment: size, share, spend (``None`` when the data carry no prices: unknown, not zero),
    purchases, buyer share, value-tier and lifecycle shares, traits, the categories over-represented in
    it, channels and peak hours. Per-user rows stay in DuckDB (joined to the assignment there); only
    per-segment totals come back."""
    total = max(len(features), 1)
    seg = assigned.rename("segment")
    g = features.groupby(seg)
    priced = bool(features["monetary"].sum() > 0)
    money = g["monetary"]
    quart = money.quantile([0.25, 0.5, 0.75]).unstack()
    hours = g[HOUR_COLUMNS].sum()
    best = features["best_channel"].dropna().groupby(seg).value_counts()
    channel_data = bool(features["messages_sent"].sum() > 0)
    members = ibis.memtable(pd.DataFrame({"user_id": assigned.index, "segment": assigned.to_numpy()}))
    cats = _category_lift(affinity(wh, win, "category", totals), members, g.size(), 5)
    shop = _top_per_segment(_channel_counts(wh, win), members, "channel", "n", 3)

    stats: dict[str, dict[str, Any]] = {}
    for sid in g.size().index:  # one pass per segment (at most k_max), never per user
        h = hours.loc[sid].to_numpy()
        p = profiles[str(sid)]
        top = cats.get(str(sid), [])
        stats[str(sid)] = {
            "size": int(g.size()[sid]),
            "share": float(g.size()[sid] / total),
            "monetary_total": float(money.sum()[sid]) if priced else None,
            "monetary_mean": float(money.mean()[sid]) if priced else None,
            "monetary_quartiles": [float(q) for q in quart.loc[sid]] if priced else None,
            "purchases_mean": float(g["frequency"].mean()[sid]),
            "buyers_share": p.buyers,
            "value_tiers": p.tiers,
            "lifecycle": p.stages,
            "traits": [
                {"feature": c, "smd": round(p.smd[c], 3), "ratio": round(p.ratio[c], 3)} for c in p.traits
            ],
            "top_categories": [c for c, _ in top],
            "top_category_lift": [round(lift, 3) for _, lift in top],
            "top_category_names_zh": [category_name(c, "zh") for c, _ in top],
            "top_category_names_en": [category_name(c, "en") for c, _ in top],
            "channel_data": channel_data,
            "preferred_channels": [str(c) for c in best.loc[sid].head(3).index] if sid in best.index else [],
            "shopping_channels": shop.get(sid, []),
            "peak_hours": [int(x) for x in np.argsort(-h)[:3]] if h.sum() > 0 else [],
        }
    return stats


def _category_lift(
    per_user: Any, members: Any, sizes: pd.Series, n: int
) -> dict[str, list[tuple[str, float]]]:
    """Per segment the ``n`` categories most over-represented in its members' weighted interest, with
    their lift (the category's share of the segment's interest / its share of everyone's). Only
    categories with lift >= 1 that at least ``max(3, 2% of the members)`` members show interest in count
    (at least 3 where none reaches 2%); a segment with none shows its largest categories."""
    j = per_user.join(members, "user_id")
    agg = j.group_by(["segment", "category"]).aggregate(v=j.score.sum(), m=j.count()).to_pyarrow().to_pandas()
    if agg.empty:
        return {}
    agg["segment"] = agg["segment"].astype(str)
    share = agg["v"] / agg.groupby("segment")["v"].transform("sum")
    everyone = agg.groupby("category")["v"].transform("sum") / agg["v"].sum()
    agg["lift"] = share / everyone
    sizes = sizes.rename(index=str)
    agg["support"] = agg["m"] >= np.maximum(3, np.ceil(0.02 * agg["segment"].map(sizes)))
    out = {}
    for sid, part in agg.groupby("segment"):
        over = part[part["lift"] >= 1.0]
        over = over[over["support"]] if over["support"].any() else over[over["m"] >= 3]
        ranked = (
            over.sort_values(["lift", "v", "category"], ascending=[False, False, True])
            if not over.empty
            else part.sort_values(["v", "category"], ascending=[False, True])
        )
        top = ranked.head(n)
        out[str(sid)] = [(str(c), float(x)) for c, x in zip(top["category"], top["lift"], strict=True)]
    return out


def _top_per_segment(per_user: Any, members: Any, key: str, value: str, n: int) -> dict[str, list[str]]:
    """The ``n`` values of ``key`` with the largest summed ``value`` over each segment's members."""
    j = per_user.join(members, "user_id")
    agg = j.group_by(["segment", key]).aggregate(v=j[value].sum())
    ranked = agg.mutate(_r=ibis.row_number().over(group_by=agg.segment, order_by=[agg.v.desc(), agg[key]]))
    top = ranked.filter(ranked._r < n).order_by(["segment", "_r"]).to_pyarrow().to_pandas()
    return {str(sid): [str(x) for x in part[key]] for sid, part in top.groupby("segment")}


def _channel_counts(wh: Warehouse, win: Window) -> Any:
    """(user_id, channel, n): the channels each user's events and orders came through."""
    ev = win.clip(wh.table("events"))
    ev = ev.filter(ev.channel.notnull()).select("user_id", "channel")
    orders = win.clip(wh.table("orders"))
    orders = orders.filter(orders.channel.notnull()).select("user_id", "channel")
    both = ibis.union(ev, orders)
    return both.group_by(["user_id", "channel"]).aggregate(n=both.count())


def _previous_centroids(wh: Warehouse) -> pd.DataFrame:
    rows = wh.sql("SELECT segment_id, centroid FROM segments")
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame({sid: json.loads(c) for sid, c in rows if c}).T


@contextmanager
def memory_limit(wh: Warehouse, limit: str | None) -> Iterator[str | None]:
    """DuckDB's memory limit for the duration of a build (then restored): it spills to disk beyond it."""
    if limit is None:
        yield None
        return
    if limit == "auto":
        limit = f"{min(3.0, 0.4 * psutil.virtual_memory().total / 2**30):.1f}GB"
    before = wh.sql("SELECT current_setting('memory_limit')")[0][0]
    wh.sql(f"SET memory_limit = '{limit}'")
    try:
        yield limit
    finally:
        wh.sql(f"SET memory_limit = '{before}'")


@contextmanager
def shared_totals(wh: Warehouse, win: Window, version: str) -> Iterator[Any]:
    """The window's ``interaction_totals`` as a temporary table for the build (one scan of the events
    instead of one per consumer), dropped afterwards."""
    name = "_ll_totals_" + "".join(c if c.isalnum() else "_" for c in version)
    table = wh.ibis.create_table(name, interaction_totals(wh, win), temp=True)
    try:
        yield table
    finally:
        wh.sql(f'DROP TABLE IF EXISTS temp.main."{name}"')


def build_segments(
    wh: Warehouse,
    win: Window,
    features: pd.DataFrame,
    tiers: pd.Series,
    stages: pd.Series,
    opts: BuildOptions,
    art: Artifact,
    totals: Any = None,
) -> tuple[pd.Series, list[dict[str, Any]]]:
    """K-means segments (K by silhouette, labels matched to the previous build), named after what sets
    them apart and only with names their members' value tiers and lifecycle stages bear out."""
    model = SegmentModel(k_min=opts.k_min, k_max=opts.k_max, seed=opts.seed).fit(features)
    model.align_to(_previous_centroids(wh))
    assigned = model.predict(features)
    centroids = model.raw_centroids(features, assigned)
    profiles = profile_segments(features, assigned, tiers, stages)
    names = name_segments(profiles)
    stats = _segment_stats(wh, win, features, assigned, profiles, totals)
    rows = []
    for sid in model.ids_:
        centre = pd.Series(centroids.loc[sid])
        zh, en = describe_segment(profiles[sid])
        name = names[sid]
        rows.append(
            {
                "segment_id": sid,
                "name_zh": name.name_zh,
                "name_en": name.name_en,
                "description": json.dumps({"zh": zh, "en": en, "archetype": name.key}, ensure_ascii=False),
                "size": int(stats.get(sid, {}).get("size", 0)),
                "centroid": json.dumps({str(k): float(v) for k, v in centre.to_dict().items()}),
                "stats": json.dumps(stats.get(sid, {}) | {"silhouette": model.silhouettes_.get(model.k)}),
            }
        )
    model.save(art.folder / "model.pkl")
    art.params = {
        "k": model.k,
        "k_bounds": [opts.k_min, opts.k_max],
        "columns": model.columns_,
        "seed": opts.seed,
    }
    art.metrics = {
        "silhouette": model.silhouettes_,
        "k": model.k,
        "sizes": {r["segment_id"]: r["size"] for r in rows},
    }
    return assigned, rows


def build_profiles(
    wh: Warehouse,
    opts: BuildOptions | None = None,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build every user's profile, the segments and the profile models; returns a summary (users,
    segments, version, window, per-model metrics, notes on anything skipped for lack of data)."""
    opts = opts or BuildOptions()
    models_dir = settings.models_dir if settings else wh.path.parent / "models"  # beside the warehouse
    settings = settings or get_settings()
    report = progress or _noop
    cutoff = opts.cutoff or data_end(wh) or datetime.now(UTC)
    refused = consent.withheld(wh, Purpose.PROFILING, settings=settings)  # their rows are never read
    win = Window.ending(cutoff, opts.window_days, settings.timezone)
    if refused.ids or refused.everyone_but:
        listed = ibis.memtable({"user_id": sorted(refused.ids)}, schema={"user_id": "string"})
        win = replace(win, refused=(listed, refused.everyone_but))
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + new_id("p")[-6:]
    notes: dict[str, str] = {}
    built: list[Artifact] = []

    def model(name: str, step: Callable[[Artifact], Any]) -> Any:
        art = artifacts.new_artifact(models_dir, name, version)
        try:
            out = step(art)
        except InsufficientData as exc:
            artifacts.discard([art])
            notes[name] = f"insufficient data: {exc.detail}"
            return None
        except BaseException:
            artifacts.discard([art])
            raise
        artifacts.write_meta(art, version, win.label())
        built.append(art)
        return out

    report("interactions", 0.02)
    try:
        with memory_limit(wh, opts.memory_limit) as limit, shared_totals(wh, win, version) as totals:
            report("features", 0.1)
            if opts.engine == "spark":
                lake = open_lake(wh, settings)
                features = build_features(lake, win)
                report("tags", 0.3)
                tags = interest_tags(lake, win).to_pyarrow()
                notes["engine"] = f"features and tags on Spark ({settings.spark_master}): {lake.timings}"
            else:
                features = build_features(wh, win, totals)
                report("tags", 0.3)
                tags = interest_tags(wh, win, totals=totals).to_pyarrow()
            value = features["net_monetary"] if features["net_monetary"].sum() > 0 else features["frequency"]
            tiers = value_tier(value)
            stages = lifecycle_stage(features, previous_gap_days(wh, win), opts.rules)

            report("segments", 0.4)
            segmented = model(
                "segments", lambda art: build_segments(wh, win, features, tiers, stages, opts, art, totals)
            )
            assigned, segment_rows = segmented or (pd.Series(None, index=features.index, dtype=object), [])

            report("churn and CLV", 0.5)
            scores = pd.DataFrame(index=features.index)
            try:
                scores = scores.join(btyd_scores(wh, win, opts.clv_weeks, opts.max_train_users, opts.seed))
            except InsufficientData as exc:
                notes["churn_clv"] = f"insufficient data: {exc.detail}"

            report("high value", 0.6)

            def high_value(art: Artifact) -> None:
                proba, hv, hv_report = high_value_scores(wh, win, features, opts)
                scores["high_value_probability"] = proba
                hv.save(art.folder / "model.pkl")
                art.params = {
                    "kind": hv.kind,
                    "choose": opts.high_value_model,
                    "top_share": opts.high_value_share,
                }
                art.metrics = hv_report

            model("high_value", high_value)

            report("interest", 0.7)

            def interest(art: Artifact) -> None:
                im, metrics = fit_interest(wh, win, int((features["events"] > 0).sum()), opts)
                im.save(art.folder / "model.pt")
                art.params = {"arch": im.arch, "length": im.length, "categories": len(im.vocab_)}
                art.metrics = metrics

            model("interest", interest)

            report("similar users", 0.8)

            def similar(art: Artifact) -> None:
                sm, metrics = fit_similar(wh, win, opts, totals)
                sm.save(art.folder / "model.pkl")
                art.params = {"factors": sm.factors, "iterations": sm.iterations, "item": "product"}
                art.metrics = metrics

            model("similar_users", similar)

            report("write", 0.9)
            _write(
                wh,
                features,
                tags,
                tiers,
                stages,
                assigned,
                scores,
                segment_rows,
                win,
                version,
                notes,
                opts,
                built,
            )
    except BaseException:
        artifacts.discard(built)
        raise
    report("done", 1.0)
    return {
        "users": len(features),
        "segments": len(segment_rows),
        "model_version": version,
        "data_window": win.label(),
        "rules": opts.rules_source,
        "memory_limit": limit,
        "models": {a.name: a.metrics for a in built},
        "notes": notes,
    }


def _write(
    wh: Warehouse,
    features: pd.DataFrame,
    tags: pa.Table,
    tiers: pd.Series,
    stages: pd.Series,
    assigned: pd.Series,
    scores: pd.DataFrame,
    segment_rows: list[dict[str, Any]],
    win: Window,
    version: str,
    notes: dict[str, str],
    opts: BuildOptions,
    built: list[Artifact],
) -> None:
    feats = features.reset_index()
    sc = scores.reindex(features.index).rename_axis("user_id").reset_index()
    meta = pd.DataFrame(
        {
            "user_id": features.index,
            "value_tier": tiers.reindex(features.index).to_numpy(),
            "lifecycle": stages.reindex(features.index).to_numpy(),
            "segment_id": assigned.reindex(features.index).to_numpy(),
        }
    )
    segs = pd.DataFrame(
        segment_rows, columns=["segment_id", "name_zh", "name_en", "description", "size", "centroid", "stats"]
    )
    hours = ", ".join(f"round(f.{h}, 4)" for h in HOUR_COLUMNS)
    params = asdict(opts) | {"models": [a.name for a in built]}
    with wh.transaction() as con:
        views = {"_feats": feats, "_scores": sc, "_meta": meta, "_segs": segs, "_tags": tags}
        for name, frame in views.items():
            con.register(name, frame)
        try:
            con.execute("DELETE FROM profiles")
            con.execute(
                "INSERT INTO profiles (user_id, features, tags, value_tier, lifecycle, segment_id, scores, "
                "data_window, model_version) "
                "SELECT m.user_id, to_json(f2), coalesce(t.tags, []::VARCHAR[]), m.value_tier, m.lifecycle, "
                "m.segment_id, json_remove(to_json(s), '$.user_id'), ?, ? "
                f"FROM _meta m JOIN (SELECT f.* EXCLUDE ({', '.join(HOUR_COLUMNS)}), "
                f"[{hours}] AS active_hours FROM _feats f) f2 USING (user_id) JOIN _scores s USING (user_id) "
                "LEFT JOIN _tags t USING (user_id)",
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
                    json.dumps(params, default=str),
                    win.label(),
                ],
            )
            artifacts.register(con, built, version, win.label())
            audit.record(
                wh,
                AuditEntry(
                    "profiles",
                    "model.version",
                    "model:profiles",
                    "activated",
                    version,
                    {"users": len(features)},
                ),
                con=con,
            )
        finally:
            for name in views:
                con.unregister(name)
