"""Quality of live-comment predictions against the annotated gold labels (the same figures everywhere:
the artifact's metrics, ``liveloop evaluate live`` and the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from liveloop.core.types import COMMENT_INTENTS
from liveloop.live.annotated import is_question

SENTIMENTS = ("negative", "neutral", "positive")


def _prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    return {
        "precision": round(float(p), 4),
        "recall": round(float(r), 4),
        "f1": round(float(f), 4),
        "support": int(y.sum()),
    }


def _macro(y: np.ndarray, p: np.ndarray) -> float:
    return round(float(f1_score(y, p, labels=list(SENTIMENTS), average="macro", zero_division=0)), 4)


def sentiment_report(gold: ArrayLike, pred: ArrayLike) -> dict[str, Any]:
    y, p = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    per = precision_recall_fscore_support(y, p, labels=list(SENTIMENTS), zero_division=0)
    return {
        "n": len(y),
        "macro_f1": _macro(y, p),
        "accuracy": round(float(accuracy_score(y, p)), 4),
        "per_class": {
            s: {"precision": round(float(per[0][i]), 4), "recall": round(float(per[1][i]), 4),
                "f1": round(float(per[2][i]), 4), "support": int(per[3][i])}
            for i, s in enumerate(SENTIMENTS)
        },
    }  # fmt: skip


def question_report(gold_intents: ArrayLike, asks: ArrayLike) -> dict[str, float]:
    """Question detection: any of the question intents, as one binary label."""
    return _prf(is_question(gold_intents).astype(int), np.asarray(asks, dtype=bool).astype(int))


def intent_report(gold: ArrayLike, pred: ArrayLike) -> dict[str, Any]:
    y, p = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    return {
        "accuracy": round(float(accuracy_score(y, p)), 4),
        "per_class": {c: _prf((y == c).astype(int), (p == c).astype(int)) for c in COMMENT_INTENTS},
    }


def aspect_report(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], names: Sequence[str]
) -> dict[str, Any]:
    """Per aspect and micro-averaged over the aspects the gold labels use."""
    out: dict[str, Any] = {}
    ys, ps = [], []
    for name in names:
        y = np.array([name in g for g in gold], dtype=int)
        p = np.array([name in q for q in pred], dtype=int)
        if y.sum() or p.sum():
            out[name] = _prf(y, p)
            ys.append(y)
            ps.append(p)
    out["micro"] = (
        _prf(np.concatenate(ys), np.concatenate(ps)) if ys else _prf(np.zeros(1, int), np.zeros(1, int))
    )
    return out


def live_report(gold: pd.DataFrame, scores: Any, aspect_names: Sequence[str]) -> dict[str, Any]:
    """Every figure of a model's :class:`~liveloop.live.nlp.CommentScores` on annotated comments."""
    intents = np.asarray(scores.intent, dtype=object)
    return {
        "n": len(gold),
        "sentiment": sentiment_report(gold["sentiment"], scores.sentiment),
        "question": question_report(gold["intent"], is_question(intents)),
        "intent": intent_report(gold["intent"], intents),
        "aspects": aspect_report(gold["aspects"].tolist(), list(scores.aspects), aspect_names),
    }
