"""The comment model: sentiment, intent and complaint aspects from one featurisation of a batch.

``CommentModel`` follows the scikit-learn shape (``fit`` / ``analyze`` / ``save`` / ``load``); it is
trained by :mod:`liveloop.live.training` on the real corpora of :mod:`liveloop.live.corpora`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import LiveloopError
from liveloop.live.corpora import ASPECT_NAMES
from liveloop.live.linear import LinearHead, TextFeaturizer, domain_weights
from liveloop.live.mentions import MentionMatcher
from liveloop.live.text import clean, language, to_text

#: |P(positive) - P(negative)| below which a comment is reported ``neutral``.
NEUTRAL_BAND = 0.3
#: Intents that ask something: neutral unless the polarity is at least this negative (then a grievance).
QUESTION_INTENTS = frozenset({"question", "price_question", "logistics_question"})
QUESTION_NEGATIVE = -0.9
#: Aspect probability above which an aspect is reported.
ASPECT_THRESHOLD = 0.5
#: Characters of each training text the models see (comments are short; reviews are cut).
TRAIN_CHARS = 200
#: L2 penalty of the sentiment head (chosen by leave-one-category-out; see docs/live.md).
SENTIMENT_ALPHA = 3e-6
#: Version of the featurisation; an artifact built with another one must be retrained, never misread.
FEATURES_VERSION = 2


class ModelUnavailable(LiveloopError):
    """The comment model is missing, outdated or still being trained (HTTP 503: retry later)."""

    status, title, type_slug = 503, "Comment model not ready", "model-unavailable"


@dataclass
class CommentScores:
    """Scores of one batch, as parallel columns (cheap to build, easy to turn into a DataFrame)."""

    text: list[str]
    lang: list[str]
    sentiment: np.ndarray
    sentiment_score: np.ndarray
    intent: np.ndarray
    intent_score: np.ndarray
    aspects: list[list[str]]
    product_mention: list[str | None]

    def __len__(self) -> int:
        return len(self.text)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lang": self.lang,
                "sentiment": self.sentiment,
                "sentiment_score": self.sentiment_score.round(4),
                "intent": self.intent,
                "intent_score": self.intent_score.round(4),
                "aspects": [",".join(a) for a in self.aspects],
                "product_mention": self.product_mention,
            }
        )

    def row(self, i: int) -> dict[str, Any]:
        return {
            "text": self.text[i],
            "lang": self.lang[i],
            "sentiment": str(self.sentiment[i]),
            "sentiment_score": float(self.sentiment_score[i]),
            "intent": str(self.intent[i]),
            "intent_score": float(self.intent_score[i]),
            "aspects": self.aspects[i],
            "product_mention": self.product_mention[i],
        }


class CommentModel:
    """Sentiment (binary with a neutral band), intent (7 classes) and aspects (multi-label)."""

    def __init__(self, n_features: int = 2**18, seed: int = 0):
        self.n_features, self.seed = n_features, seed
        self.featurizer = TextFeaturizer(n_features)
        self.sentiment = LinearHead(alpha=SENTIMENT_ALPHA, seed=seed)  # balanced by domain_weights
        self.intent = LinearHead(alpha=2e-6, seed=seed, balanced=True)
        self.aspects = LinearHead(alpha=1e-5, seed=seed, balanced=True, multilabel=True)

    def features(self, texts: Sequence[object], max_chars: int = TRAIN_CHARS) -> Any:
        return self.featurizer.transform([clean(t, max_chars) for t in texts])

    def fit(
        self,
        sentiment: pd.DataFrame,
        intent: pd.DataFrame,
        aspects: pd.DataFrame,
        progress: Callable[[str, float], None] | None = None,
    ) -> CommentModel:
        """Frames: text + label (0/1/2); text + label (intent name); text + one column per aspect."""
        report = progress or (lambda stage, done: None)
        report(f"fitting sentiment on {len(sentiment):,} texts", 0.1)
        self.fit_sentiment(sentiment)
        report(f"fitting intent on {len(intent):,} texts", 0.6)
        self.intent.fit(self.features(intent["text"].tolist()), intent["label"].to_numpy())
        report(f"fitting complaint aspects on {len(aspects):,} reviews", 0.8)
        asp = aspects[list(ASPECT_NAMES)].to_numpy()
        self.aspects.fit(self.features(aspects["text"].tolist()), asp, ASPECT_NAMES)
        return self

    def fit_sentiment(self, frame: pd.DataFrame, X: Any = None) -> CommentModel:
        """The sentiment head alone (text, label, and ``group`` or ``source`` naming each row's domain)."""
        X = self.features(frame["text"].tolist()) if X is None else X
        domain = frame["group"] if "group" in frame.columns else frame["source"]
        labels = frame["label"].to_numpy()
        self.sentiment.fit(X, labels, sample_weight=domain_weights(domain.tolist(), labels.tolist()))
        return self

    def _polarity(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(P(positive), P(negative)) per row; classes are 0 negative, 1 positive, 2 neutral."""
        p = self.sentiment.predict_proba(X)
        if p.shape[1] == 1:  # a binary head (positive vs negative only)
            return p[:, 0], 1 - p[:, 0]
        classes = list(self.sentiment.classes_)
        return p[:, classes.index(1)], p[:, classes.index(0)]

    def sentiment_proba(self, texts: Sequence[object]) -> np.ndarray:
        """P(positive | polar) per text: positive against negative, the neutral class set aside."""
        pos, neg = self._polarity(self.features(texts))
        return pos / np.maximum(pos + neg, 1e-12)

    def analyze(self, texts: Sequence[object], matcher: MentionMatcher | None = None) -> CommentScores:
        """Score a batch: one featurisation, three matrix products, one regex pass for mentions.

        Repeated comments ("哈哈哈", "？？？", "来了") are scored once per batch and copied back.
        """
        keys = [t if isinstance(t, str) else to_text(t) for t in texts]
        codes, uniques = pd.factorize(np.asarray(keys, dtype=object))
        unique = self._analyze_unique([clean(t) for t in uniques], matcher)
        if len(uniques) == len(keys):
            return unique
        return CommentScores(
            text=[unique.text[c] for c in codes],
            lang=[unique.lang[c] for c in codes],
            sentiment=unique.sentiment[codes],
            sentiment_score=unique.sentiment_score[codes],
            intent=unique.intent[codes],
            intent_score=unique.intent_score[codes],
            aspects=[unique.aspects[c] for c in codes],
            product_mention=[unique.product_mention[c] for c in codes],
        )

    def _analyze_unique(self, cleaned: list[str], matcher: MentionMatcher | None) -> CommentScores:
        X = self.featurizer.transform(cleaned)
        empty = np.fromiter((not t for t in cleaned), dtype=bool, count=len(cleaned))
        pos, neg = self._polarity(X)
        score = pos - neg
        score[empty] = 0.0
        label = np.full(len(cleaned), "neutral", dtype=object)
        label[score >= NEUTRAL_BAND] = "positive"
        label[score <= -NEUTRAL_BAND] = "negative"
        p_int = self.intent.predict_proba(X)
        intent = self.intent.classes_[p_int.argmax(axis=1)].astype(object)
        intent[empty] = "chit_chat"
        asks = np.isin(intent, list(QUESTION_INTENTS)) & (score > QUESTION_NEGATIVE)
        label[asks] = "neutral"
        p_asp = self.aspects.predict_proba(X) >= ASPECT_THRESHOLD
        names = [str(a) for a in self.aspects.classes_]
        aspects: list[list[str]] = [[] for _ in cleaned]
        for i, j in zip(*np.nonzero(p_asp), strict=True):
            aspects[i].append(names[j])
        return CommentScores(
            text=cleaned,
            lang=[language(t) for t in cleaned],
            sentiment=label,
            sentiment_score=score,
            intent=intent,
            intent_score=p_int.max(axis=1),
            aspects=aspects,
            product_mention=matcher.match(cleaned) if matcher else [None] * len(cleaned),
        )

    def save(self, directory: Path, metadata: dict[str, Any] | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("sentiment", "intent", "aspects"):
            getattr(self, name).save(directory / f"{name}.npz")
        meta = {
            "n_features": self.n_features,
            "seed": self.seed,
            "features_version": FEATURES_VERSION,
            **(metadata or {}),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str))
        return directory

    @classmethod
    def load(cls, directory: Path) -> CommentModel:
        meta = json.loads((directory / "model.json").read_text())
        if meta.get("features_version") != FEATURES_VERSION:
            raise ModelUnavailable(
                f"the comment model in {directory} was built by an older liveloop: "
                "run `liveloop nlp train` to rebuild it",
                field="model",
            )
        model = cls(n_features=int(meta["n_features"]), seed=int(meta["seed"]))
        for name in ("sentiment", "intent", "aspects"):
            setattr(model, name, LinearHead.load(directory / f"{name}.npz"))
        return model
