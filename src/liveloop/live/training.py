"""Training the comment model reproducibly, recording held-out metrics with the artifact.

``train`` reads the annotated live comments (training room only) and the real corpora (a seeded,
stratified 20 % of every review source held out), fits :class:`~liveloop.live.nlp.CommentModel`
(:mod:`liveloop.live.fitting`), measures it on the annotated test rooms and the held-out reviews and
writes ``LIVELOOP_HOME/models/nlp/<version>/`` (weights, ``model.json`` with params, data and metrics).
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
from liveloop.live import annotated, corpora, fitting
from liveloop.live.nlp import FEATURES_VERSION, CommentModel, ModelUnavailable
from liveloop.live.scoring import live_report

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


def review_splits(
    settings: Settings | None, per_source: int | None, seed: int
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Train/held-out frames of the review corpora (polarity) and the zhijiang aspects."""
    sent = cap(corpora.sentiment_corpus(settings), "source", per_source, seed)
    asp = corpora.zhijiang_aspects(settings)
    return {
        "reviews": split(sent, sent["source"] + sent["label"].astype(str), seed),
        "aspects": split(asp, asp["logistics"].astype(str) + asp["negative"].astype(str), seed),
    }


def evaluate(
    model: CommentModel, live_test: pd.DataFrame, reviews: pd.DataFrame, aspects: pd.DataFrame
) -> dict[str, Any]:
    """Held-out figures: the annotated test rooms (every live head), reviews per source (polarity) and
    the zhijiang aspects."""
    live = live_report(live_test, model.analyze(live_test["text"].tolist()), corpora.ALL_ASPECTS)
    pred = (model.sentiment_proba(reviews["text"].tolist()) >= 0.5).astype(int)
    y = reviews["label"].to_numpy()
    by_source = {
        src: binary_metrics(y[m], pred[m])
        for src in sorted(reviews["source"].unique())
        for m in [reviews["source"].to_numpy() == src]
    }
    X = model.features(aspects["text"].tolist(), "live")
    apred = model.aspects.predict(X)
    names = [str(a) for a in model.aspects.classes_]
    zhijiang = {}
    for name in corpora.ASPECT_NAMES:
        j = names.index(name)
        p, r, f, _ = precision_recall_fscore_support(
            aspects[name].to_numpy(), apred[:, j], average="binary", zero_division=0
        )
        zhijiang[name] = {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(aspects[name].sum()),
        }
    return {
        "live_test_rooms": live,
        "reviews": {"overall": binary_metrics(y, pred), "by_source": by_source},
        "aspects_reviews": zhijiang,
    }


def train(
    settings: Settings | None = None,
    *,
    per_source: int | None = None,
    seed: int = 0,
    version: str | None = None,
    progress: Progress | None = None,
    choose: bool = True,
) -> TrainResult:
    """Fit on the annotated training room and the real corpora, evaluate on the test rooms and held-out
    reviews, write the artifact and say how well. ``choose=False`` reuses the release's settings
    (:data:`fitting.RELEASE`) instead of choosing them on the development folds: a third of the time,
    and the same model on the full data."""
    settings = settings or get_settings()
    report = progress or (lambda stage, done: None)
    started = time.perf_counter()
    report("reading the annotated live comments and the corpora", 0.0)
    live = annotated.load(settings)
    parts = review_splits(settings, per_source, seed)
    data = fitting.training_data(
        settings,
        live=live,
        reviews=parts["reviews"][0],
        aspects=parts["aspects"][0],
        per_source=per_source,
        seed=seed,
    )
    model, choice = fitting.fit(data, seed=seed, progress=report, choice=None if choose else fitting.RELEASE)
    report("measuring on the test rooms and the held-out reviews", 0.9)
    metrics = evaluate(model, live[live["split"] == "test"], parts["reviews"][1], parts["aspects"][1])
    metrics["development"] = choice.dev or None  # None: the release's settings, no folds were run
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = settings.models_dir / MODEL_NAME / version
    seconds = time.perf_counter() - started
    model.save(
        path,
        {
            "name": MODEL_NAME,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "params": {
                "per_source": per_source,
                "seed": seed,
                "holdout": HOLDOUT,
                "settings_from": "development folds" if choose else "release",
                "sentiment_C": choice.sentiment_C,
                "question_C": choice.question_C,
                "review_weight": fitting.REVIEW_WEIGHT,
                "aux_intent_weight": fitting.AUX_INTENT_WEIGHT,
                "polarity_C": fitting.POLARITY_C,
            },
            "data": {
                **data.sizes,
                "live_test": int((live["split"] == "test").sum()),
                "reviews_held_out": len(parts["reviews"][1]),
                "aspects_held_out": len(parts["aspects"][1]),
            },
            "sources": sorted(
                [
                    *corpora.SENTIMENT_SOURCES,
                    "atec_cs_question_pairs",
                    "amazon_qa_appliances",
                    "bilibili_live_room_events_20211230 (annotated set)",
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
    a model trained now with the release's settings (a minute or two on the full corpora), each stage
    reported to ``progress``.
    """
    settings = settings or get_settings()
    with _lock:
        path = usable_path(settings) if build_if_missing else latest_path(settings)
        if path is None:
            if not build_if_missing:
                raise ModelUnavailable(MISSING, field="model")
            path = train(settings, per_source=per_source, progress=progress, choose=False).path
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
    path = existing or train(settings, per_source=per_source, progress=progress, choose=False).path
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

    def version(self) -> str | None:
        """The version of the model in use (None until one is loaded)."""
        return self._model.version if self._model is not None else None

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
