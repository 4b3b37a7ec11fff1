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
from liveloop.recommend.evaluate import evaluate_models
from liveloop.recommend.factorization import ALS
from liveloop.recommend.hybrid import HybridRanker
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.knn import ItemKNN
from liveloop.recommend.popularity import Popularity
from liveloop.recommend.sources import from_warehouse
from liveloop.recommend.splits import time_split


@dataclass
class ModelBundle:
    """Everything serving needs from one training run (pickled as the version's artifact)."""

    version: str
    users: np.ndarray
    items: np.ndarray
    main: Retriever
    knn: ItemKNN
    als: ALS
    content: ContentBased | None
    popularity: np.ndarray
    seen: sp.csr_matrix
    top_items: np.ndarray  # (n_users, top_n) item indices, best first
    top_scores: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    user_index: dict[str, int] = field(default_factory=dict)
    item_index: dict[str, int] = field(default_factory=dict)
    bundles: BundleIndex | None = None  # association rules: "often bought with" in product contexts

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
    a number >= 0 (default 0: relevance only) or ``auto`` (chosen on the training holdout)."""
    raw = os.environ.get("LIVELOOP_RECOMMEND_VALUE_WEIGHT", "0").strip().lower()
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


def _fit_models(data: Interactions, seed: int) -> tuple[Retriever, ItemKNN, ALS, ContentBased | None, str]:
    knn = ItemKNN().fit(data)
    als = ALS(seed=seed).fit(data)
    content: ContentBased | None
    try:
        content = ContentBased().fit(data)
    except InsufficientData:
        content = None
    parts: list[Retriever] = [ALS(seed=seed), ItemKNN()]
    try:
        hybrid = HybridRanker(parts, value_weight=value_weight_setting(), seed=seed)
        return hybrid.fit(data), knn, als, content, "hybrid"
    except InsufficientData:
        return als, knn, als, content, "als"


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


def train(
    wh: Any,
    settings: Settings | None = None,
    *,
    seed: int = 0,
    top_n: int = 100,
    k: int = 10,
    evaluate: bool = True,
) -> dict[str, Any]:
    """``liveloop recommend train``: evaluate on a time split, fit on everything, record the version."""
    data = from_warehouse(wh)
    if len(np.unique(data.user_idx)) < 2 or len(np.unique(data.item_idx)) < 2:
        raise InsufficientData("training needs interactions of at least two users with at least two products")
    metrics: dict[str, Any] = {"events": len(data), "users": data.n_users, "items": data.n_items}
    try:
        if not evaluate:
            raise InsufficientData("evaluation skipped on request")
        train_part, test_part = time_split(data, 0.2)
        main_eval, _, _, _, kind = _fit_models(train_part, seed)
        rows = evaluate_models(train_part, test_part, [Popularity(), ALS(seed=seed), main_eval], k)
        metrics["holdout"] = rows
    except InsufficientData as exc:
        metrics["holdout"] = f"not evaluated: {exc.detail}"
    main, knn, als, content, kind = _fit_models(data, seed)
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
    bundle.precompute(np.arange(data.n_users), n)
    bundle.bundles = bought_together(wh)
    metrics["model"] = kind
    metrics["bundle_rules"] = len(bundle.bundles) if bundle.bundles is not None else 0
    if isinstance(main, HybridRanker):
        metrics["feature_importance"] = main.feature_importance()
    params = {"seed": seed, "top_n": n, "model": kind, "main": main.get_params()}
    path = registry.save_version(
        wh,
        bundle,
        version=bundle.version,
        metrics=metrics,
        params=params,
        window=data.window,
        settings=settings,
    )
    return {"version": bundle.version, "path": str(path), "model": kind, "metrics": metrics}
