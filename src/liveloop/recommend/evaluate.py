"""Offline evaluation: every retriever and the hybrid on the same split, full-catalogue ranking."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed
from liveloop.recommend.base import Retriever, mask_seen, top_k
from liveloop.recommend.content import ContentBased
from liveloop.recommend.factorization import ALS, BPR, SparkALS
from liveloop.recommend.hybrid import HybridRanker
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.knn import EASE, ItemKNN, SequentialKNN
from liveloop.recommend.metrics import ranking_metrics
from liveloop.recommend.popularity import Popularity, Trending
from liveloop.recommend.sequential import GRU4Rec, SASRec
from liveloop.recommend.sources import load_dataset
from liveloop.recommend.splits import stratified_split, time_split

#: Microsoft Recommenders' published MovieLens-100k table (README "Algorithm comparison":
#: stratified 75/25 split per user, seed 42, k=10, ratings as implicit feedback).
PUBLISHED_MOVIELENS = {
    "source": "github.com/recommenders-team/recommenders README, algorithm comparison, MovieLens 100k",
    "BPR (cornac)": {"ndcg@10": 0.442},
    "BiVAE (cornac)": {"ndcg@10": 0.475},
}

#: Retrievers whose candidates and scores feed the hybrid in offline evaluation (chosen on a
#: validation split carved from MovieLens' training part, see docs/recommend.md).
HYBRID_PARTS = ("als", "seqknn", "itemknn", "popularity", "trending")
#: Retrievers the hybrid adds where they raise NDCG on the validation split (``choose_hybrid_features``).
HYBRID_OPTIONAL = ("ease",)

MODEL_NAMES = (
    "popularity", "trending", "itemknn", "seqknn", "ease", "als", "bpr", "content", "sasrec", "gru4rec"
)  # fmt: skip

#: Protocols: (split, whether items the user already interacted with are removed from the lists).
PROTOCOLS = {"time": ("time", True), "stratified": ("random", True), "time_repeat": ("time", False)}


def make_retrievers(
    names: tuple[str, ...] | list[str], seed: int = 0, *, epochs: int = 10, engine: str = "duckdb"
) -> list[Retriever]:
    """Fresh, seeded retrievers by name (tuned defaults for small real catalogues); ``engine="spark"``
    trains ALS on Spark MLlib (``als_spark`` names that one on any engine)."""
    factories: dict[str, Callable[[], Retriever]] = {
        "popularity": Popularity,
        "trending": Trending,
        "itemknn": ItemKNN,
        "seqknn": SequentialKNN,
        "ease": EASE,
        "als": lambda: SparkALS(seed=seed) if engine == "spark" else ALS(seed=seed),
        "als_spark": lambda: SparkALS(seed=seed),
        "bpr": lambda: BPR(seed=seed),
        "content": ContentBased,
        "sasrec": lambda: SASRec(epochs=epochs, seed=seed),
        "gru4rec": lambda: GRU4Rec(epochs=epochs, seed=seed),
    }
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ValidationFailed(f"unknown model(s) {unknown}; choose from {list(factories)}", field="models")
    return [factories[n]() for n in names]


def has_text(data: Interactions) -> bool:
    return data.items_meta is not None and "text" in data.items_meta


def evaluate_models(
    train: Interactions,
    test: Interactions,
    models: list[Retriever],
    k: int = 10,
    *,
    exclude_seen: bool = True,
) -> list[dict[str, Any]]:
    """Fit each model on ``train`` and rank the whole known catalogue for every test user.

    ``exclude_seen`` removes the user's training items from the lists (and so from the hits).
    """
    users = np.intersect1d(np.unique(test.user_idx), np.unique(train.user_idx))
    counts = train.item_counts()
    known = counts > 0
    rows = []
    for model in models:
        started = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - started
        recs = []
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            s = np.array(model.score(batch), dtype=np.float32)
            s[:, ~known] = -np.inf
            if exclude_seen:
                mask_seen(s, train.matrix, batch)
            recs.append(top_k(s, k)[0])
        metrics = ranking_metrics(
            np.concatenate(recs),
            test.matrix,
            users,
            k=k,
            item_popularity=counts,
            n_train_users=int((np.bincount(train.user_idx, minlength=train.n_users) > 0).sum()),
            catalogue_size=int(known.sum()),
        )
        rows.append(
            {"model": model.name, **{m: round(v, 4) for m, v in metrics.items()}, "fit_s": round(fit_s, 2)}
        )
    return rows


def _hybrid(
    split: str,
    exclude_seen: bool,
    stats: tuple[str, ...] | None,
    seed: int,
    epochs: int,
    parts: tuple[str, ...] = HYBRID_PARTS,
) -> HybridRanker:
    retrievers = make_retrievers(parts, seed, epochs=epochs)
    return HybridRanker(retrievers, split=split, folds=3, stats=stats, exclude_seen=exclude_seen, seed=seed)


def choose_hybrid_features(
    train: Interactions, split: str, exclude_seen: bool, k: int, seed: int, epochs: int
) -> dict[str, Any]:
    """Whether the hybrid uses the profile/item statistics or only the retrievers' scores and ranks, and
    whether it adds ``HYBRID_OPTIONAL`` to its retrievers, decided on a validation split carved from
    ``train`` with the same protocol (never the test split).

    The statistics help where the signal is in them (Taobao: trend, repeats) and hurt where they shift
    when the retrievers are refitted on all the training data (MovieLens).
    """
    if split == "time":
        fit_part, val_part = time_split(train, 0.2)
    else:
        fit_part, val_part = stratified_split(train, 0.75, seed=seed + 1)
    key = f"ndcg@{k}"

    def score(stats: tuple[str, ...] | None, parts: tuple[str, ...]) -> float:
        model = _hybrid(split, exclude_seen, stats, seed, epochs, parts)
        (row,) = evaluate_models(fit_part, val_part, [model], k, exclude_seen=exclude_seen)
        return float(row[key])

    scores = {label: score(stats, HYBRID_PARTS) for label, stats in (("all", None), ("retrievers only", ()))}
    best = max(scores, key=lambda label: scores[label])
    stats = None if best == "all" else ()
    parts: tuple[str, ...] = HYBRID_PARTS
    for extra in HYBRID_OPTIONAL:
        label = f"{best} + {extra}"
        scores[label] = score(stats, (*parts, extra))
        if scores[label] > scores[best]:
            best, parts = label, (*parts, extra)
    return {"validation_" + key: scores, "features": best, "stats": stats, "parts": list(parts)}


def evaluate_protocol(
    data: Interactions, protocol: str, models: list[str], k: int = 10, seed: int = 0, epochs: int = 10
) -> dict[str, Any]:
    """One protocol: ``time`` (the last 20% of time tests), ``stratified`` (random 75/25 per user, the
    Microsoft Recommenders protocol) or ``time_repeat`` (time split; items seen in training may be
    recommended again and count as hits)."""
    if protocol not in PROTOCOLS:
        raise ValidationFailed(
            f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}", field="protocol"
        )
    split, exclude_seen = PROTOCOLS[protocol]
    if split == "time":
        train, test = time_split(data, 0.2)
    else:
        train, test = stratified_split(data, 0.75, seed=42)
    names = [m for m in models if m != "content" or has_text(data)]
    base = [n for n in names if n != "hybrid"]
    evaluated = make_retrievers(base, seed, epochs=epochs)
    validation = None
    if "hybrid" in names:
        validation = choose_hybrid_features(train, split, exclude_seen, k, seed, epochs)
        parts = tuple(validation["parts"])
        evaluated.append(_hybrid(split, exclude_seen, validation["stats"], seed, epochs, parts))
    rows = evaluate_models(train, test, evaluated, k, exclude_seen=exclude_seen)
    baseline = next((r for r in rows if r["model"] == "popularity"), None)
    key = f"ndcg@{k}"
    if baseline:
        for r in rows:
            r["ndcg_lift_vs_popularity"] = round(r[key] / baseline[key], 3) if baseline[key] else None
    return {
        "protocol": protocol,
        "seen_items": "removed" if exclude_seen else "allowed",
        "train_events": len(train),
        "test_events": len(test),
        "k": k,
        "rows": rows,
        "best": max(rows, key=lambda r: r[key])["model"] if rows else None,
        **({"hybrid_validation": validation} if validation else {}),
    }


def evaluate_dataset(
    name: str,
    *,
    k: int = 10,
    protocols: list[str] | None = None,
    models: list[str] | None = None,
    seed: int = 0,
    epochs: int = 10,
) -> dict[str, Any]:
    """``liveloop evaluate recommend``: every model on a real data set, popularity as the baseline."""
    if not 1 <= k <= 100:
        raise ValidationFailed("k must be between 1 and 100", field="k")
    data = load_dataset(name)
    if protocols is None:
        protocols = ["time", "stratified"] if name == "movielens_100k" else ["time"]
    models = models or [*MODEL_NAMES, "hybrid"]
    out: dict[str, Any] = {
        "dataset": name,
        "users": data.n_users,
        "items": data.n_items,
        "events": len(data),
        "results": [evaluate_protocol(data, p, models, k, seed, epochs) for p in protocols],
    }
    if name == "movielens_100k":
        out["published"] = PUBLISHED_MOVIELENS
    return out
