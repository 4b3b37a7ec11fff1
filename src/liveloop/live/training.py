"""Training the comment model reproducibly, recording held-out metrics with the artifact.

``train`` reads the real corpora, holds out a seeded, stratified 20 % of every source, fits
:class:`~liveloop.live.nlp.CommentModel` on the rest, measures it on the held-out part and writes
``LIVELOOP_HOME/models/nlp/<version>/`` (weights, ``model.json`` with params, data and metrics).
``load_model`` returns the latest artifact and, when there is none, says so (or trains one when asked,
reporting each stage); :class:`ModelProvider` gives a long-running process the model without ever
blocking a request: a missing model is trained in a background thread and its state is reported.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable
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
from liveloop.live.nlp import FEATURES_VERSION, CommentModel, ModelUnavailable

MODEL_NAME = "nlp"
HOLDOUT = 0.2
MISSING = "no comment model yet: run `liveloop nlp train` (about 1–2 minutes on 2 cores)"
log = logging.getLogger("liveloop.live")

#: ``progress(stage, fraction done)``: what :func:`train` is doing, for a spinner or a log line.
Progress = Callable[[str, float], None]

__all__ = ["ModelProvider", "ModelUnavailable", "ensure_model", "load_model", "train"]


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
    progress: Progress | None = None,
) -> TrainResult:
    """Fit on the real corpora, evaluate on the held-out 20 %, write the artifact and say how well."""
    settings = settings or get_settings()
    report = progress or (lambda stage, done: None)
    started = time.perf_counter()
    report("reading the corpora", 0.0)
    parts = corpora_splits(settings, per_source, seed)
    model = CommentModel(seed=seed).fit(
        parts["sentiment"][0], parts["intent"][0], parts["aspects"][0], progress=report
    )
    report("measuring on the held-out 20 %", 0.9)
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
    report("written", 1.0)
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


def usable_path(settings: Settings | None = None) -> Path | None:
    """The latest artifact if this liveloop can read it (same featurisation), else None."""
    path = latest_path(settings)
    if path is None:
        return None
    meta = json.loads((path / "model.json").read_text())
    return path if meta.get("features_version") == FEATURES_VERSION else None


def load_model(
    settings: Settings | None = None,
    *,
    build_if_missing: bool = False,
    per_source: int | None = None,
    progress: Progress | None = None,
) -> CommentModel:
    """The latest trained comment model (cached per process).

    Without one: :class:`ModelUnavailable` naming ``liveloop nlp train``, or, with ``build_if_missing``,
    a model trained now (a minute or two on the full corpora), each stage reported to ``progress``.
    """
    settings = settings or get_settings()
    with _lock:
        path = usable_path(settings) if build_if_missing else latest_path(settings)
        if path is None:
            if not build_if_missing:
                raise ModelUnavailable(MISSING, field="model")
            path = train(settings, per_source=per_source, progress=progress).path
        if path not in _cache:
            _cache.clear()
            _cache[path] = CommentModel.load(path)
        return _cache[path]


def ensure_model(
    settings: Settings | None = None, *, per_source: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Train the comment model when there is none (a visible step for the demo); what was done."""
    started = time.perf_counter()
    existing = usable_path(settings)
    path = existing or train(settings, per_source=per_source, progress=progress).path
    return {
        "version": path.name,
        "trained": existing is None,
        "seconds": round(time.perf_counter() - started, 1),
    }


class ModelProvider:
    """The comment model of a long-running process (the API's live hub), never blocking a request.

    ``get()`` returns the model or None while it is not ready; on first use it loads the latest
    artifact, or, when there is none and ``train_if_missing``, trains one in a background thread
    (logged, and reported by ``status()`` as ``training`` with its stage). ``require()`` raises
    :class:`ModelUnavailable` (503) meanwhile. A plain ``loader`` (tests, the CLI) is called
    synchronously instead.
    """

    def __init__(
        self,
        loader: Callable[[], CommentModel] | None = None,
        *,
        settings: Settings | None = None,
        train_if_missing: bool = True,
        per_source: int | None = None,
    ):
        self.loader, self.settings = loader, settings
        self.train_if_missing, self.per_source = train_if_missing, per_source
        self.state, self.stage, self.error = "not_loaded", "", ""
        self.started_at: float | None = None
        self._model: CommentModel | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self) -> CommentModel | None:
        if self._model is not None:
            return self._model
        if self.loader is not None:
            with self._lock:
                if self._model is None:
                    self._model = self.loader()
                    self.state = "ready"
            return self._model
        with self._lock:
            if self._model is None and self._thread is None and self.state != "failed":
                if usable_path(self.settings) is not None:
                    self._model, self.state = load_model(self.settings), "ready"
                elif not self.train_if_missing:
                    self.state = "missing"
                else:
                    self._start_training()
        return self._model

    def _start_training(self) -> None:
        self.state, self.stage, self.started_at = "training", "starting", time.monotonic()
        log.warning(
            "no comment model yet: training one in the background on the real corpora (about 1–2 minutes); "
            "live rooms queue their events until it is ready (`liveloop nlp train` builds it ahead)"
        )

        def stage(name: str, done: float) -> None:
            self.stage = name

        def run() -> None:
            try:
                model = load_model(
                    self.settings, build_if_missing=True, per_source=self.per_source, progress=stage
                )
            except Exception as exc:  # reported in status() and the log, never silent
                self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
                log.error("training the comment model failed: %s", self.error)
                return
            self._model, self.state = model, "ready"
            log.warning("comment model trained in %.0f s", time.monotonic() - (self.started_at or 0))

        self._thread = threading.Thread(target=run, name="liveloop-nlp-train", daemon=True)
        self._thread.start()

    def require(self) -> CommentModel:
        model = self.get()
        if model is not None:
            return model
        status = self.status()
        if status["state"] == "training":
            raise ModelUnavailable(
                f"the comment model is being trained ({status['stage']}, {status['seconds']:.0f} s so far); "
                "retry in a minute",
                field="model",
                extra={"model": status, "retry_after": 30},
            )
        reason = f" ({self.error})" if self.error else ""
        raise ModelUnavailable(MISSING + reason, field="model", extra={"model": status})

    def wait(self, timeout: float | None = None) -> CommentModel | None:
        """Block until a background training ends (tests, shutdown); the model or None."""
        self.get()
        if self._thread is not None:
            self._thread.join(timeout)
        return self._model

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.state == "training":
            out["stage"] = self.stage
            out["seconds"] = round(time.monotonic() - (self.started_at or time.monotonic()), 1)
        if self.error:
            out["error"] = self.error
        return out


def model_info(settings: Settings | None = None) -> dict[str, Any]:
    path = latest_path(settings)
    if path is None:
        return {}
    meta: dict[str, Any] = json.loads((path / "model.json").read_text())
    return meta
