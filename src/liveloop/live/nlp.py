"""The comment model: sentiment, questions, intent and complaint aspects of live comments, and the
polarity of reviews, from one featurisation of a batch.

``CommentModel`` follows the scikit-learn shape (``fit`` / ``analyze`` / ``save`` / ``load``); it is
trained by :mod:`liveloop.live.training` on the annotated live comments (:mod:`liveloop.live.annotated`)
and the real review and question corpora (:mod:`liveloop.live.corpora`). Heads:

- ``sentiment``: positive / neutral / negative of a live comment (three classes, a prior shift per class
  chosen on development folds);
- ``question``: is the comment phrased as a question (binary, its threshold chosen on development folds);
- ``intent``: the seven intents; a question's kind comes from the question classes, any other comment's
  from the rest;
- ``aspects``: what a negative comment is about (multi-label: the six product aspects, stream, host);
- ``polarity``: positive against negative for reviews and long product comments (IDF-weighted features).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import LiveloopError
from liveloop.core.types import COMMENT_INTENTS, QUESTION_INTENTS
from liveloop.live.corpora import INTENT_RULES
from liveloop.live.linear import LinearHead, TextFeaturizer, finish
from liveloop.live.mentions import MentionMatcher
from liveloop.live.text import clean, language, to_text

#: Aspect probability above which an aspect is reported (on negative comments and complaints).
ASPECT_THRESHOLD = 0.5
#: Aspects a negative comment names by word are reported whatever the head says (发货太慢, 太贵了):
#: the training data has few short live complaints about shipping or price.
NAMED_ASPECTS = {name: INTENT_RULES[name] for name in ("logistics", "price")}
_WORDS = re.compile(r"[A-Za-z]{2,}")
#: English comments of three words or more (the annotated live set has none) take their sentiment from
#: the review polarity head: positive at or above this probability, negative at or below one minus it,
#: else neutral.
ENGLISH_POLAR = 0.75
#: Characters of each training review the models see (comments are short; reviews are cut).
TRAIN_CHARS = 200
#: Version of the featurisation and heads; an artifact built with another one must be retrained.
FEATURES_VERSION = 3
SENTIMENTS = ("negative", "neutral", "positive")
HEADS = ("sentiment", "question", "intent", "aspects", "polarity")
KINDS = ("live", "review")


class ModelUnavailable(LiveloopError):
    """The comment model is missing, outdated or still being trained (HTTP 503: retry later)."""

    status, title, type_slug = 503, "Comment model not ready", "model-unavailable"


@dataclass
class Settings:
    """What :mod:`liveloop.live.training` chose on development folds, saved with the heads."""

    sentiment_bias: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0.0))
    question_threshold: float = 0.5


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

    def take(self, codes: np.ndarray) -> CommentScores:
        """Rows by index (repeated comments scored once, copied back)."""
        return CommentScores(
            text=[self.text[c] for c in codes],
            lang=[self.lang[c] for c in codes],
            sentiment=self.sentiment[codes],
            sentiment_score=self.sentiment_score[codes],
            intent=self.intent[codes],
            intent_score=self.intent_score[codes],
            aspects=[self.aspects[c] for c in codes],
            product_mention=[self.product_mention[c] for c in codes],
        )


class CommentModel:
    """Five linear heads over one featurisation (see the module docstring)."""

    def __init__(self, n_features: int = 2**18, seed: int = 0):
        self.n_features, self.seed = n_features, seed
        self.version: str | None = None  # the artifact's version once loaded
        self.featurizer = TextFeaturizer(n_features)
        self.sentiment = LinearHead()
        self.question = LinearHead()
        self.intent = LinearHead()
        self.aspects = LinearHead(multilabel=True)
        self.polarity = LinearHead()
        self.idf = np.ones(n_features, dtype=np.float32)
        self.settings = Settings()

    # -- features ------------------------------------------------------------------------------
    def features(self, texts: Sequence[object], domain: str = "live", max_chars: int = TRAIN_CHARS) -> Any:
        """Normalised features of raw texts (cleaned here), for the live heads."""
        return self.featurizer.transform([clean(t, max_chars) for t in texts], domain)

    def polarity_features(self, texts: Sequence[object], max_chars: int = TRAIN_CHARS) -> Any:
        return finish(self.featurizer.counts([clean(t, max_chars) for t in texts], "review"), self.idf)

    # -- reading -------------------------------------------------------------------------------
    def sentiment_proba(self, texts: Sequence[object]) -> np.ndarray:
        """P(positive | polar) per text from the review polarity head."""
        return self.polarity.predict_proba(self.polarity_features(texts))[:, 0]

    def sentiment_live(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(label, P(positive) - P(negative)) of live comments from their features."""
        z = self.sentiment.decision(X)
        classes = [str(c) for c in self.sentiment.classes_]
        z = z + np.array([self.settings.sentiment_bias.get(c, 0.0) for c in classes], dtype=np.float32)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        label = np.asarray(classes, dtype=object)[p.argmax(axis=1)]
        return label, p[:, classes.index("positive")] - p[:, classes.index("negative")]

    def is_question(self, X: Any) -> np.ndarray:
        return self.question.predict_proba(X)[:, 0] >= self.settings.question_threshold

    def intents(self, X: Any, asks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each comment's intent among the question kinds when it asks, else among the other intents."""
        p = self.intent.predict_proba(X)
        classes = [str(c) for c in self.intent.classes_]
        ask_cols = np.array([c in QUESTION_INTENTS for c in classes])
        masked = np.where(asks[:, None] == ask_cols[None, :], p, -1.0)
        best = masked.argmax(axis=1)
        out = np.asarray(classes, dtype=object)[best]
        # a question kind the head never saw in training still falls back to "question"
        if "question" not in classes:
            out[asks] = "question"
        return out, p[np.arange(len(p)), best]

    def analyze(
        self, texts: Sequence[object], matcher: MentionMatcher | None = None, kind: str = "live"
    ) -> CommentScores:
        """Score a batch: one featurisation, a few matrix products, one regex pass for mentions.

        ``kind="review"`` reads sentiment with the review polarity head (positive / negative). Repeated
        comments ("哈哈哈", "？？？", "来了") are scored once per batch and copied back.
        """
        if kind not in KINDS:
            raise LiveloopError(f"kind must be one of {', '.join(KINDS)}", field="kind")
        keys = [t if isinstance(t, str) else to_text(t) for t in texts]
        codes, uniques = pd.factorize(np.asarray(keys, dtype=object))
        unique = self._analyze_unique([clean(t) for t in uniques], matcher, kind)
        return unique if len(uniques) == len(keys) else unique.take(codes)

    def _analyze_unique(self, cleaned: list[str], matcher: MentionMatcher | None, kind: str) -> CommentScores:
        X = self.featurizer.transform(cleaned, "live")
        empty = np.fromiter((not t for t in cleaned), dtype=bool, count=len(cleaned))
        langs = [language(t) for t in cleaned]
        label, score = self.sentiment_live(X)
        english = np.array(
            [lang == "en" and len(_WORDS.findall(t)) >= 3 for lang, t in zip(langs, cleaned, strict=True)]
        )
        if kind == "review" or english.any():
            rows = np.flatnonzero(english) if kind == "live" else np.arange(len(cleaned))
            pos = self.polarity.predict_proba(
                finish(self.featurizer.counts([cleaned[i] for i in rows], "review"), self.idf)
            )[:, 0]
            band = 0.5 if kind == "review" else ENGLISH_POLAR
            label[rows] = np.where(pos >= band, "positive", np.where(pos <= 1 - band, "negative", "neutral"))
            score[rows] = 2 * pos - 1
        label[empty], score[empty] = "neutral", 0.0
        asks = self.is_question(X) & ~empty
        intent, intent_score = self.intents(X, asks)
        intent[empty] = "chit_chat"
        negative = (label == "negative") | (intent == "complaint")
        names = [str(a) for a in self.aspects.classes_]
        p_asp = self.aspects.predict_proba(X) >= ASPECT_THRESHOLD
        neg_rows = np.flatnonzero(negative)
        for name, pattern in NAMED_ASPECTS.items():
            hits = np.fromiter((bool(pattern.search(cleaned[i])) for i in neg_rows), bool, len(neg_rows))
            p_asp[neg_rows[hits], names.index(name)] = True
        p_asp &= negative[:, None]
        aspects: list[list[str]] = [[] for _ in cleaned]
        for i, j in zip(*np.nonzero(p_asp), strict=True):
            aspects[i].append(names[j])
        return CommentScores(
            text=cleaned,
            lang=langs,
            sentiment=label,
            sentiment_score=score.astype(np.float64),
            intent=intent,
            intent_score=intent_score.astype(np.float64),
            aspects=aspects,
            product_mention=matcher.match(cleaned) if matcher else [None] * len(cleaned),
        )

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path, metadata: dict[str, Any] | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in HEADS:
            getattr(self, name).save(directory / f"{name}.npz")
        np.save(directory / "idf.npy", self.idf.astype(np.float16))
        meta = {
            "n_features": self.n_features,
            "seed": self.seed,
            "features_version": FEATURES_VERSION,
            "settings": {
                "sentiment_bias": self.settings.sentiment_bias,
                "question_threshold": self.settings.question_threshold,
            },
            "intents": list(COMMENT_INTENTS),
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
        for name in HEADS:
            setattr(model, name, LinearHead.load(directory / f"{name}.npz"))
        model.idf = np.load(directory / "idf.npy").astype(np.float32)
        chosen = meta.get("settings") or {}
        model.settings = Settings(
            sentiment_bias={k: float(v) for k, v in (chosen.get("sentiment_bias") or {}).items()},
            question_threshold=float(chosen.get("question_threshold", 0.5)),
        )
        model.version = str(meta.get("version") or directory.name)
        return model


#: ``progress(stage, fraction done)``: what training is doing, for a spinner or a log line.
Progress = Callable[[str, float], None]
