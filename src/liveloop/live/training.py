"""Training the comment model reproducibly, recording held-out metrics with the artifact.

``train`` reads the real corpora, holds out a seeded, stratified 20 % of every source, fits
:class:`~liveloop.live.nlp.CommentModel` on the rest, measures it on the held-out part and writes
``LIVELOOP_HOME/models/nlp/<version>/`` (weights, ``model.json`` with params, data and metrics).
``load_model`` returns the latest artifact, training one first when none exists.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from liveloop.core.config import Settings, get_settings
from liveloop.live import corpora
from liveloop.live.nlp import CommentModel

MODEL_NAME = "nlp"
HOLDOUT = 0.2


@dataclass
class TrainResult:
    version: str
    path: Path
    seconds: float
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "seconds": round(self.seconds, 1),
            "metrics": self.metrics,
        }


def cap(df: pd.DataFrame, by: str, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows per value of ``by`` (seeded), for quick training in tests."""
    if not limit:
        return df.reset_index(drop=True)
    return df.sample(frac=1.0, random_state=seed).groupby(by).head(limit).reset_index(drop=True)


def split(df: pd.DataFrame, strata: pd.Series, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded stratified hold-out (the corpora carry no usable timestamps)."""
    tr, te = train_test_split(np.arange(len(df)), test_size=HOLDOUT, random_state=seed, stratify=strata)
    return df.iloc[tr].reset_index(drop=True), df.iloc[te].reset_index(drop=True)


def binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "n": len(y),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
    }


def per_class(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    p, r, f, n = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return {
        lab: {
            "precision": round(float(p[i]), 4),
            "recall": round(float(r[i]), 4),
            "f1": round(float(f[i]), 4),
            "support": int(n[i]),
        }
        for i, lab in enumerate(labels)
    }


def corpora_splits(
    settings: Settings | None, per_source: int | None, seed: int
) -> dict[str, tuple[pd.DataFrame, ...]]:
    """Train/held-out frames for sentiment, intent and aspects."""
    sent = cap(corpora.sentiment_corpus(settings), "source", per_source, seed)
    simulated = corpora.simulator_comments(min(per_source or 3000, 3000), seed)
    simulated = simulated.assign(
        label=simulated["sentiment"].map({"negative": 0, "positive": 1, "neutral": 2})
    )
    sent = pd.concat(
        [
            sent,
            corpora.neutral_corpus(settings, n=min(per_source or 6000, 6000), seed=seed),
            simulated[["text", "label", "source"]].assign(group="simulator"),
        ],
        ignore_index=True,
    )
    intent = corpora.intent_corpus(
        settings, per_class=min(per_source or 4000, 4000), seed=seed, simulated=min(per_source or 3000, 3000)
    )
    asp = corpora.zhijiang_aspects(settings)
    return {
        "sentiment": split(sent, sent["source"] + sent["label"].astype(str), seed),
        "intent": split(intent, intent["label"] + intent["source"].eq("simulator").astype(str), seed),
        "aspects": split(asp, asp["logistics"].astype(str) + asp["negative"].astype(str), seed),
    }


def evaluate(model: CommentModel, held: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Held-out metrics: sentiment per source, intent and aspects per class."""
    every = held["sentiment"]
    polar = (every["label"].to_numpy() != 2) & every["source"].ne("simulator").to_numpy()
    sent = every[polar]
    pred = (model.sentiment_proba(sent["text"].tolist()) >= 0.5).astype(int)
    y = sent["label"].to_numpy()
    neutral = model.sentiment.predict(model.features(every.loc[every["label"] == 2, "text"].tolist()))
    by_source = {
        src: binary_metrics(y[m], pred[m])
        for src in sorted(sent["source"].unique())
        for m in [sent["source"].to_numpy() == src]
    }
    everything = held["intent"]
    sim = everything["source"].eq("simulator").to_numpy()
    ipred_all = model.intent.predict(model.features(everything["text"].tolist()))
    intent, ipred = everything[~sim], ipred_all[~sim]
    asp = held["aspects"]
    apred = model.aspects.predict(model.features(asp["text"].tolist()))
    ytrue = asp[list(corpora.ASPECT_NAMES)].to_numpy()
    aspects = {}
    for j, name in enumerate(corpora.ASPECT_NAMES):
        p, r, f, _ = precision_recall_fscore_support(
            ytrue[:, j], apred[:, j], average="binary", zero_division=0
        )
        aspects[name] = {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(ytrue[:, j].sum()),
        }
    return {
        "sentiment": {
            "overall": binary_metrics(y, pred),
            "by_source": by_source,
            "neutral_recall": round(float(np.mean(neutral == 2)), 4) if len(neutral) else None,
        },
        "intent": {
            "accuracy": round(float(accuracy_score(intent["label"], ipred)), 4),
            "macro_f1": round(float(f1_score(intent["label"], ipred, average="macro")), 4),
            "per_class": per_class(intent["label"].to_numpy(), ipred, list(corpora.INTENTS)),
            "simulator": per_class(everything["label"].to_numpy()[sim], ipred_all[sim], list(corpora.INTENTS))
            if sim.any()
            else {},
        },
        "aspects": aspects,
    }


def train(
    settings: Settings | None = None,
    *,
    per_source: int | None = None,
    seed: int = 0,
    version: str | None = None,
) -> TrainResult:
    """Fit on the real corpora, evaluate on the held-out 20 %, write the artifact and say how well."""
    settings = settings or get_settings()
    started = time.perf_counter()
    parts = corpora_splits(settings, per_source, seed)
    model = CommentModel(seed=seed).fit(parts["sentiment"][0], parts["intent"][0], parts["aspects"][0])
    metrics = evaluate(model, {k: v[1] for k, v in parts.items()})
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = settings.models_dir / MODEL_NAME / version
    seconds = time.perf_counter() - started
    model.save(
        path,
        {
            "name": MODEL_NAME,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "params": {"per_source": per_source, "seed": seed, "holdout": HOLDOUT},
            "data": {k: {"train": len(v[0]), "held_out": len(v[1])} for k, v in parts.items()},
            "sources": sorted(
                [
                    *corpora.SENTIMENT_SOURCES,
                    "atec_cs_question_pairs",
                    "amazon_qa_appliances",
                    "bilibili_live_room_events_20211230",
                    "zhijiang_cosmetics_review_opinion_mining",
                ]
            ),
            "metrics": metrics,
            "train_seconds": round(seconds, 1),
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
            },
        },
    )
    (path.parent / "LATEST").write_text(version)
    return TrainResult(version, path, seconds, metrics)


_lock = threading.Lock()
_cache: dict[Path, CommentModel] = {}


def latest_path(settings: Settings | None = None) -> Path | None:
    """The newest artifact (or the one ``LIVELOOP_NLP_MODEL`` names), None when there is none."""
    override = os.environ.get("LIVELOOP_NLP_MODEL")
    if override:
        return Path(override) if (Path(override) / "model.json").is_file() else None
    settings = settings or get_settings()
    pointer = settings.models_dir / MODEL_NAME / "LATEST"
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "model.json").is_file() else None


def load_model(
    settings: Settings | None = None, *, build_if_missing: bool = True, per_source: int | None = None
) -> CommentModel:
    """The latest trained comment model (cached per process); trains one first if there is none."""
    settings = settings or get_settings()
    with _lock:
        path = latest_path(settings)
        if path is None:
            if not build_if_missing:
                from liveloop.core.errors import NotFound

                raise NotFound("no comment model yet: run `liveloop nlp train`", field="model")
            path = train(settings, per_source=per_source).path
        if path not in _cache:
            _cache.clear()
            _cache[path] = CommentModel.load(path)
        return _cache[path]


def model_info(settings: Settings | None = None) -> dict[str, Any]:
    path = latest_path(settings)
    if path is None:
        return {}
    meta: dict[str, Any] = json.loads((path / "model.json").read_text())
    return meta
