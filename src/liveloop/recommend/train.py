"""Training from the warehouse: fit retrievers and the hybrid, evaluate, precompute lists, record it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from liveloop.core.config import Settings
from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.recommend import registry
from liveloop.recommend.base import Retriever, mask_seen, top_k
from liveloop.recommend.bundles import BundleIndex, mine_rules, warehouse_baskets
from liveloop.recommend.content import ContentBased
from liveloop.recommend.evaluate import evaluate_models, make_retrievers
from liveloop.recommend.factorization import ALS, SparkALS
from liveloop.recommend.hybrid import HybridRanker
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.knn import ItemKNN
from liveloop.recommend.popularity import Popularity
from liveloop.recommend.sources import from_warehouse
from liveloop.recommend.splits import time_split
from liveloop.warehouse.spark import check_engine


@dataclass
class ModelBundle:
    """Everything serving needs from one training run (pickled as the version's artifact)."""

    version: str
    users: np.ndarray
    items: np.ndarray
    main: Retriever
    knn: ItemKNN
    als: ALS | SparkALS
    content: ContentBased | None
    popularity: np.ndarray
    seen: sp.csr_matrix
    top_items: np.ndarray  # (n_users, top_n) item indices, best first
    top_scores: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    user_index: dict[str, int] = field(default_factory=dict)
    item_index: dict[str, int] = field(default_factory=dict)
    bundles: BundleIndex | None = None  # association rules: "often bought with" in product contexts
    #: serving's boost for a product in a room live now, learned by the hybrid (None: the fixed default)
    live_boost: float | None = None

    def precompute(self, users: np.ndarray, top_n: int) -> None:
        """(Re)compute the cached candidate lists of ``users`` from the main model."""
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            s = np.array(self.main.score(batch), dtype=np.float32)
            mask_seen(s, self.seen, batch)
            idx, val = top_k(s, top_n)
            self.top_items[batch], self.top_scores[batch] = idx, val


def value_weight_setting() -> float | str:
    """``LIVELOOP_RECOMMEND_VALUE_WEIGHT``: how much the served hybrid favours margin (docs/recommend.md):
    ``auto`` (the default, as in Table 2: chosen on the training holdout, 0 where margin does not help)
    or a number >= 0 (0: relevance only)."""
    raw = os.environ.get("LIVELOOP_RECOMMEND_VALUE_WEIGHT", "auto").strip().lower() or "auto"
    if raw == "auto":
        return raw
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # NaN fails too
        raise ValidationFailed(
            f"LIVELOOP_RECOMMEND_VALUE_WEIGHT must be a finite number >= 0 or 'auto', not {raw!r}",
            field="LIVELOOP_RECOMMEND_VALUE_WEIGHT",
        )
    return value


#: The candidate sets ``recommend train`` compares on its training holdout: the hybrid of Table 2 (ALS,
#: item-kNN and SASRec under LambdaRank) and the same without SASRec (SASRec stays only where it helps).
CANDIDATE_SETS: tuple[tuple[str, ...], ...] = (("als", "itemknn"), ("als", "itemknn", "sasrec"))
#: Epochs of SASRec inside the served hybrid (as in Table 2).
SASREC_EPOCHS = 10


@dataclass(frozen=True)
class ModelSpec:
    """A servable configuration: the hybrid over named retrievers with a value weight, or ALS alone."""

    retrievers: tuple[str, ...] = ("als", "itemknn")
    value_weight: float | str = 0.0
    model: str = "hybrid"
    live: bool = True  # the live-now feature (learned where the data has live rooms)
    engine: str = "duckdb"  # ``spark``: ALS trained on Spark MLlib (the rest here either way)

    @property
    def label(self) -> str:
        if self.model != "hybrid":
            return self.model
        value = f", value weight {self.value_weight}" if self.value_weight else ""
        live = "" if self.live else ", no live-now"
        spark = ", ALS on Spark" if self.engine == "spark" else ""
        return f"hybrid ({'+'.join(self.retrievers)}{value}{live}{spark})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "retrievers": list(self.retrievers),
            "value_weight": self.value_weight,
            "live": self.live,
            "engine": self.engine,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ModelSpec | None:
        """The configuration a recorded version was trained with (versions before specs: from its params)."""
        spec = params.get("spec")
        if isinstance(spec, dict):
            return cls(
                tuple(spec["retrievers"]),
                spec["value_weight"],
                spec["model"],
                spec.get("live", True),
                spec.get("engine", "duckdb"),
            )
        if params.get("model") == "als":
            return cls((), 0.0, "als")
        main = params.get("main")
        if params.get("model") == "hybrid" and isinstance(main, dict):
            # its live-now feature was 0 in training: nothing learned
            return cls(
                tuple(main.get("retrievers", ("als", "itemknn"))), main.get("value_weight", 0.0), live=False
            )
        return None

    def build(self, seed: int, epochs: int = SASREC_EPOCHS) -> Retriever:
        if self.model == "als":
            return make_retrievers(("als",), seed, engine=self.engine)[0]
        parts = make_retrievers(self.retrievers, seed, epochs=epochs, engine=self.engine)
        return HybridRanker(parts, value_weight=self.value_weight, live=self.live, seed=seed)


def _fit_models(
    data: Interactions, spec: ModelSpec, seed: int, epochs: int = SASREC_EPOCHS
) -> tuple[Retriever, ItemKNN, ALS | SparkALS, ContentBased | None, ModelSpec]:
    """Fit serving's retrievers and ``spec`` on ``data`` (ALS alone when the hybrid finds no positives)."""
    knn = ItemKNN().fit(data)
    als = make_retrievers(("als",), seed, engine=spec.engine)[0].fit(data)
    assert isinstance(als, ALS | SparkALS)
    content: ContentBased | None
    try:
        content = ContentBased().fit(data)
    except InsufficientData:
        content = None
    if spec.model != "hybrid":
        return als, knn, als, content, spec
    fitted: dict[str, Retriever] = {"als": als, "itemknn": knn}
    fresh = make_retrievers(spec.retrievers, seed, epochs=epochs)
    prefitted = [
        fitted[n] if n in fitted else r.fit(data) for n, r in zip(spec.retrievers, fresh, strict=True)
    ]
    try:
        hybrid = spec.build(seed, epochs)
        assert isinstance(hybrid, HybridRanker)
        return hybrid.fit(data, prefitted=prefitted), knn, als, content, spec
    except InsufficientData:
        return als, knn, als, content, ModelSpec((), 0.0, "als", engine=spec.engine)


def learned_live_boost(model: HybridRanker, data: Interactions, sample: int = 512) -> float | None:
    """Serving's boost for a product in a room live now, on its 0-1 score scale: the median over (up to
    ``sample``) users of what the hybrid's live-now feature adds to their candidates' scores, over each
    user's score range, at least 0. None where the data had no live rooms (nothing was learned)."""
    users = np.flatnonzero(np.bincount(data.user_idx, minlength=data.n_users) > 0)
    if len(users) > sample:
        users = np.random.default_rng(0).choice(users, sample, replace=False)
    effect = model.live_now_effect(np.sort(users))
    if effect is None:
        return None
    return round(float(np.clip(np.median(effect), 0.0, 1.0)), 4)


def bought_together(
    wh: Any, *, min_support: float = 0.001, min_confidence: float = 0.2, max_len: int = 3
) -> BundleIndex | None:
    """Association rules over the warehouse's multi-item baskets (None when there are none).

    Items below ``min_support`` cannot be in a frequent itemset, so they are dropped before the one-hot
    matrix is built (the basket count, and so every support, is unchanged): the matrix stays small
    for a large catalogue.
    """
    baskets = [b for b in warehouse_baskets(wh) if len(b) > 1]
    if not baskets:
        return None
    counts: dict[str, int] = {}
    for b in baskets:
        for item in set(b):
            counts[item] = counts.get(item, 0) + 1
    floor = min_support * len(baskets)
    frequent = {i for i, n in counts.items() if n >= floor}
    try:
        rules = mine_rules(
            [[i for i in b if i in frequent] for b in baskets],
            min_support=min_support,
            min_confidence=min_confidence,
            max_len=max_len,
        )
    except InsufficientData:
        return None
    return BundleIndex(rules) if len(rules) else None


def _holdout_row(
    train_part: Interactions, test_part: Interactions, model: Retriever, label: str, k: int
) -> dict[str, Any]:
    """``model`` fitted on ``train_part``, ranked for ``test_part``'s users (``error``: it cannot fit)."""
    try:
        (row,) = evaluate_models(train_part, test_part, [model], k)
    except InsufficientData as exc:
        return {"model": label, "error": exc.detail}
    return {**row, "model": label}


def compare_on_holdout(
    data: Interactions,
    *,
    value_weight: float | str,
    active: ModelSpec | None,
    seed: int = 0,
    k: int = 10,
    epochs: int = SASREC_EPOCHS,
    engine: str = "duckdb",
) -> tuple[ModelSpec, list[dict[str, Any]], dict[str, Any]]:
    """Carve the latest 20% of ``data``'s time line as a holdout; fit popularity, ALS, every candidate set
    and (refitted the same way) the active version's configuration on the rest; the candidate is the
    best set on NDCG@k. Returns (candidate, the holdout rows, the figures the gate compares)."""
    train_part, test_part = time_split(data, 0.2)
    key = f"ndcg@{k}"
    rows = [
        _holdout_row(train_part, test_part, Popularity(), "popularity", k),
        _holdout_row(train_part, test_part, ModelSpec((), 0.0, "als", engine=engine).build(seed), "als", k),
    ]
    by_spec: dict[ModelSpec, dict[str, Any]] = {}

    def fit(spec: ModelSpec) -> float:
        by_spec[spec] = _holdout_row(train_part, test_part, spec.build(seed, epochs), spec.label, k)
        return float(by_spec[spec].get(key, -1.0))

    # live-now stays where it helps (tried on the smallest set, only where the data has live rooms)
    with_live = fit(ModelSpec(CANDIDATE_SETS[0], value_weight, live=True, engine=engine))
    has_rooms = data.live is not None and len(data.live) > 0
    live = not has_rooms or with_live >= fit(
        ModelSpec(CANDIDATE_SETS[0], value_weight, live=False, engine=engine)
    )
    for names in CANDIDATE_SETS[1:]:
        fit(ModelSpec(names, value_weight, live=live, engine=engine))
    ok = [s for s in by_spec if key in by_spec[s]]
    # ties go to the smaller set (listed first)
    als_only = ModelSpec((), 0.0, "als", engine=engine)
    candidate = max(ok, key=lambda s: by_spec[s][key]) if ok else als_only
    by_spec.setdefault(als_only, rows[1])
    if active is not None and active not in by_spec:
        by_spec[active] = _holdout_row(train_part, test_part, active.build(seed, epochs), active.label, k)
    rows += [r for s, r in by_spec.items() if s.model == "hybrid"]
    figures = {
        "metric": key,
        "holdout": "latest 20% of the training data's time line; every model fitted on the rest",
        "candidate": {"spec": candidate.to_dict(), **_figures(by_spec[candidate], k)},
        "popularity": _figures(rows[0], k),
        "active": None if active is None else {"spec": active.to_dict(), **_figures(by_spec[active], k)},
    }
    return candidate, rows, figures


def _figures(row: dict[str, Any], k: int) -> dict[str, Any]:
    names = ("model", f"ndcg@{k}", f"recall@{k}", f"hitrate@{k}", f"mrr@{k}", "users", "error")
    return {n: row[n] for n in names if n in row}


def decide(figures: dict[str, Any] | None, *, force: bool, why_not: str = "") -> dict[str, Any]:
    """The activation gate: the candidate is activated when its holdout figure beats popularity's and is
    at least the active configuration's (the same configuration scores the same: a retrain on fresher
    data passes); ``force`` activates anyway, with a warning."""
    if figures is None:
        passed, reason = False, f"not evaluated ({why_not}): the gate cannot compare"
    else:
        key = figures["metric"]
        cand = figures["candidate"].get(key)
        pop = figures["popularity"].get(key)
        act = figures["active"].get(key) if figures["active"] else None
        if cand is None:
            passed, reason = False, f"the candidate could not be evaluated: {figures['candidate']['error']}"
        elif pop is not None and cand <= pop:
            passed, reason = False, f"candidate {key} {cand} does not beat popularity's {pop}"
        elif act is not None and cand < act:
            passed, reason = False, f"candidate {key} {cand} is below the active model's {act}"
        else:
            vs = [f"popularity {pop}"] + ([f"active {act}"] if act is not None else [])
            passed, reason = True, f"candidate {key} {cand} beats {' and '.join(vs)}"
    out: dict[str, Any] = {"passed": passed, "forced": force and not passed, "activated": passed or force}
    out["reason"] = reason
    if force and not passed:
        out["warning"] = f"activated by --force although the gate refused it: {reason}"
    elif not passed:
        out["warning"] = f"not activated: {reason}; the active model stays (--force activates it anyway)"
    return out


def train(
    wh: Any,
    settings: Settings | None = None,
    *,
    seed: int = 0,
    top_n: int = 100,
    k: int = 10,
    evaluate: bool = True,
    force: bool = False,
    epochs: int = SASREC_EPOCHS,
    engine: str = "duckdb",
) -> dict[str, Any]:
    """``liveloop recommend train``: compare the candidate sets with popularity and the active model on a
    holdout carved from the warehouse's data, fit the best on everything, record it and activate it
    only when it passes the gate (``decide``) or ``force``. ``engine="spark"`` trains ALS on Spark
    MLlib (``Settings.spark_master``)."""
    check_engine(engine)
    data = from_warehouse(wh)
    if len(np.unique(data.user_idx)) < 2 or len(np.unique(data.item_idx)) < 2:
        raise InsufficientData("training needs interactions of at least two users with at least two products")
    value_weight = value_weight_setting()
    current = registry.active_version(wh)
    active_spec = ModelSpec.from_params(registry.version_params(wh, current[0])) if current else None
    metrics: dict[str, Any] = {"events": len(data), "users": data.n_users, "items": data.n_items}
    spec, figures, why_not = ModelSpec(CANDIDATE_SETS[0], value_weight, engine=engine), None, ""
    try:
        if not evaluate:
            raise InsufficientData("evaluation skipped on request")
        spec, metrics["holdout"], figures = compare_on_holdout(
            data, value_weight=value_weight, active=active_spec, seed=seed, k=k, epochs=epochs, engine=engine
        )
        if figures["active"] is not None and current is not None:
            figures["active"]["version"] = current[0]
    except InsufficientData as exc:
        why_not = exc.detail
        metrics["holdout"] = f"not evaluated: {exc.detail}"
    gate = decide(figures, force=force, why_not=why_not)
    main, knn, als, content, spec = _fit_models(data, spec, seed, epochs)
    kind = spec.model
    n = min(top_n, data.n_items)
    bundle = ModelBundle(
        version=registry.new_version(),
        users=data.users,
        items=data.items,
        main=main,
        knn=knn,
        als=als,
        content=content,
        popularity=Popularity().fit(data).scores_,
        seen=data.matrix,
        top_items=np.zeros((data.n_users, n), np.int64),
        top_scores=np.zeros((data.n_users, n), np.float32),
        metrics=metrics,
        user_index=data.user_index(),
        item_index=data.item_index(),
    )
    if isinstance(main, HybridRanker):
        bundle.live_boost = learned_live_boost(main, data)
    bundle.precompute(np.arange(data.n_users), n)
    bundle.bundles = bought_together(wh)
    metrics["model"] = kind
    metrics["gate"] = {**gate, **(figures or {})}
    metrics["bundle_rules"] = len(bundle.bundles) if bundle.bundles is not None else 0
    if isinstance(main, HybridRanker):
        metrics["feature_importance"] = main.feature_importance()
        metrics["value_weight"] = main.value_weight_
    metrics["live_boost"] = bundle.live_boost
    params = {"seed": seed, "top_n": n, "model": kind, "spec": spec.to_dict(), "main": main.get_params()}
    path = registry.save_version(
        wh,
        bundle,
        version=bundle.version,
        metrics=metrics,
        params=params,
        window=data.window,
        settings=settings,
        activate=gate["activated"],
    )
    return {
        "version": bundle.version,
        "path": str(path),
        "model": kind,
        "activated": gate["activated"],
        "gate": metrics["gate"],
        "metrics": metrics,
    }
