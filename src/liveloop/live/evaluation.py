"""Review sentiment quality: held-out per data set beside SnowNLP, leave-one-category-out beside the
TF-IDF baseline (and SnowNLP on the rows it never saw).

SnowNLP (its bundled Chinese review model, offline) is the peer every figure is printed beside;
it is a development dependency, so these functions import it lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from liveloop.core.config import Settings
from liveloop.live import corpora
from liveloop.live.fitting import fit_polarity
from liveloop.live.linear import finish
from liveloop.live.nlp import SENTIMENTS, TRAIN_CHARS, CommentModel
from liveloop.live.text import clean
from liveloop.live.training import binary_metrics, cap, split

CHINESE_SOURCES = ("online_shopping_10_cats", "waimai_10k", "zhijiang_cosmetics")


def snownlp_proba(texts: list[str]) -> np.ndarray:
    """SnowNLP's P(positive) per text (0.5 for text it cannot score)."""
    from snownlp import SnowNLP

    out = np.full(len(texts), 0.5)
    for i, text in enumerate(texts):
        if text.strip():
            with contextlib.suppress(ZeroDivisionError, ValueError):  # fails on some symbol-only input
                out[i] = SnowNLP(text).sentiments
    return out


@lru_cache(maxsize=1)
def snownlp_training_texts() -> frozenset[str]:
    """The review texts SnowNLP's bundled model was trained on (its pos.txt / neg.txt).

    They overlap the public corpora (99.8 % of online_shopping's 书籍 rows, 76 % of 计算机, 25 % of
    酒店 verbatim, more as fragments), so every comparison drops them and their near-duplicates from the
    test rows (:func:`seen_by_snownlp`): SnowNLP must not be tested on its training set.
    """
    from importlib import resources

    texts: set[str] = set()
    for name in ("pos.txt", "neg.txt"):
        ref = resources.files("snownlp") / "sentiment" / name
        texts.update(line.strip() for line in ref.read_text(encoding="utf-8").splitlines() if line.strip())
    return frozenset(texts)


#: Character-trigram TF-IDF cosine at or above which a text counts as a near-duplicate of a SnowNLP training
#: text: a fragment of one, or one with a sentence added (计算机 rows left after the exact match are ~98 %).
NEAR_DUPLICATE = 0.5


@lru_cache(maxsize=1)
def _snownlp_index() -> tuple[TfidfVectorizer, sp.csc_matrix]:
    texts = sorted(snownlp_training_texts())
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), sublinear_tf=True).fit(texts)
    return vectorizer, vectorizer.transform(texts).T.tocsc()


def seen_by_snownlp(texts: Sequence[str], chunk: int = 2000) -> np.ndarray:
    """True where a text is in SnowNLP's training files, verbatim or as a near-duplicate."""
    seen = snownlp_training_texts()
    exact = np.fromiter((str(t).strip() in seen for t in texts), dtype=bool, count=len(texts))
    vectorizer, index = _snownlp_index()
    near = np.zeros(len(texts), dtype=bool)
    for start in range(0, len(texts), chunk):
        sims = vectorizer.transform([str(t) for t in texts[start : start + chunk]]) @ index
        near[start : start + chunk] = np.asarray(sims.max(axis=1).todense()).ravel() >= NEAR_DUPLICATE
    return exact | near


def _unseen_by_snownlp(df: pd.DataFrame) -> pd.DataFrame:
    return df[~seen_by_snownlp(df["text"].astype(str).tolist())]


def _unseen_sample(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """Up to ``n`` seeded rows SnowNLP was not trained on (checks a shuffled prefix first: cheap)."""
    shuffled = df.sample(frac=1.0, random_state=seed)
    if n:
        head = _unseen_by_snownlp(shuffled.iloc[: int(n * 1.5) + 50])
        if len(head) >= n or len(shuffled) <= int(n * 1.5) + 50:
            return head.iloc[:n]
    unseen = _unseen_by_snownlp(shuffled)
    return unseen.iloc[:n] if n else unseen


def held_out_vs_snownlp(
    model: CommentModel, held: pd.DataFrame, *, sample: int | None = 1000, seed: int = 0
) -> dict[str, Any]:
    """Per source: our accuracy/macro-F1 beside SnowNLP's on the same held-out rows (SnowNLP: Chinese only).

    Rows SnowNLP was trained on are left out for both, so the two are measured on the same unseen rows.
    """
    out: dict[str, Any] = {}
    for source in sorted(held["source"].unique()):
        rows = _unseen_sample(held[held["source"] == source], sample, seed)
        texts, y = rows["text"].astype(str).tolist(), rows["label"].to_numpy()
        entry = {"liveloop": binary_metrics(y, (model.sentiment_proba(texts) >= 0.5).astype(int))}
        if source in CHINESE_SOURCES:
            entry["snownlp"] = binary_metrics(y, (snownlp_proba(texts) >= 0.5).astype(int))
        out[source] = entry
    return out


def tfidf_baseline(train_texts: Sequence[str], y: np.ndarray, test_texts: Sequence[str]) -> np.ndarray:
    """The simple baseline: TF-IDF character 1–3-grams and a logistic regression (scikit-learn defaults)."""
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=False)
    X = vectorizer.fit_transform(train_texts)
    return LogisticRegression(max_iter=2000).fit(X, y).predict(vectorizer.transform(test_texts))


def leave_one_category_out(
    settings: Settings | None = None,
    *,
    per_source: int | None = None,
    sample: int | None = 2000,
    seed: int = 0,
    categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """For each online_shopping category: the review polarity head trained on every other category and
    corpus, tested on it, beside the TF-IDF baseline trained on the same rows (and SnowNLP on the test
    rows it never saw).

    ``per_source`` caps the training rows per corpus; ``sample`` the test rows per category (seeded).
    The rows are featurised once; each fold fits the polarity head (IDF from its own training rows).
    """
    corpus = corpora.sentiment_corpus(settings)
    corpus["text"] = corpus["text"].astype(str)
    is_shop = (corpus["source"] == "online_shopping_10_cats").to_numpy()
    folds = list(categories) if categories else sorted(corpus.loc[is_shop, "group"].unique())
    in_pool = np.ones(len(corpus), dtype=bool)
    if per_source:
        shuffled = corpus.sample(frac=1.0, random_state=seed)
        in_pool = corpus.index.isin(shuffled.groupby("source").head(per_source).index)
    model = CommentModel(seed=seed)
    counts = model.featurizer.counts([clean(t, TRAIN_CHARS) for t in corpus["text"]], "review")
    y = corpus["label"].to_numpy()
    out: dict[str, Any] = {}
    for category in folds:
        test_mask = is_shop & (corpus["group"] == category).to_numpy()
        train = np.flatnonzero(in_pool & ~test_mask)
        test = corpus[test_mask]
        if sample and len(test) > sample:
            test = test.sample(sample, random_state=seed)
        idx = test.index.to_numpy()
        idf, head = fit_polarity(counts[train], y[train])
        ours = head.predict(finish(counts[idx], idf)).astype(int)
        base = tfidf_baseline(corpus["text"].iloc[train].tolist(), y[train], test["text"].tolist())
        entry: dict[str, Any] = {
            "n": len(test),
            "liveloop": binary_metrics(y[idx], ours),
            "tfidf_lr": binary_metrics(y[idx], base.astype(int)),
        }
        unseen = ~seen_by_snownlp(test["text"].tolist())
        if unseen.sum() >= 50:
            snow = (snownlp_proba(test["text"][unseen].tolist()) >= 0.5).astype(int)
            entry["snownlp_unseen"] = {
                "liveloop": binary_metrics(y[idx][unseen], ours[unseen]),
                "snownlp": binary_metrics(y[idx][unseen], snow),
            }
        else:
            entry["snownlp_unseen"] = {
                "skipped": f"only {int(unseen.sum())} rows not in SnowNLP's training set"
            }
        out[str(category)] = entry
    return out


def sentiment_report(
    settings: Settings | None = None,
    *,
    per_source: int | None = None,
    sample: int | None = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Held-out (beside SnowNLP) and leave-one-category-out (beside the TF-IDF baseline) review figures."""
    corpus = corpora.sentiment_corpus(settings)
    if per_source:
        corpus = cap(corpus, "source", per_source, seed)
    train, held = split(corpus, corpus["source"] + corpus["label"].astype(str), seed)
    model = CommentModel(seed=seed)
    counts = model.featurizer.counts([clean(t, TRAIN_CHARS) for t in train["text"]], "review")
    model.idf, model.polarity = fit_polarity(counts, train["label"].to_numpy())
    return {
        "held_out": held_out_vs_snownlp(model, held, sample=sample, seed=seed),
        "leave_one_category_out": leave_one_category_out(
            settings, per_source=per_source, sample=sample, seed=seed
        ),
    }


#: The simple question baseline of issue 13 (a one-line regular expression).
QUESTION_REGEX = r"[?？]|吗|什么|怎么|能不能|谁|为什么|哪"


def snownlp_three_way(train: pd.DataFrame, test_texts: list[str]) -> tuple[list[str], dict[str, float]]:
    """SnowNLP as a three-class baseline: P(positive) above ``hi`` positive, below ``lo`` negative, else
    neutral, the two cut-offs chosen on the training room (macro-F1), never on the test rooms."""
    p_train = snownlp_proba(train["text"].astype(str).tolist())
    y = train["sentiment"].to_numpy()
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    best = max(
        (
            (f1_score(y, np.where(p_train >= hi, "positive", np.where(p_train <= lo, "negative", "neutral")),
                      average="macro", labels=list(SENTIMENTS), zero_division=0), lo, hi)
            for lo in grid for hi in grid if lo < hi
        ),
    )  # fmt: skip
    _, lo, hi = best
    p = snownlp_proba(test_texts)
    pred = np.where(p >= hi, "positive", np.where(p <= lo, "negative", "neutral"))
    return pred.tolist(), {"lo": float(lo), "hi": float(hi)}


def bootstrap_f1(
    gold: Any, pred: Any, labels: Sequence[Any], *, positive: Any = None, rounds: int = 1000, seed: int = 0
) -> list[float]:
    """A 95 % percentile bootstrap interval of the F1 of ``positive`` (else the macro F1 over
    ``labels``) over the test comments: every round's confusion matrix at once, from the resampled
    (gold, predicted) pairs — the same draws and figures as scoring each resample, 100× faster."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels) + 1  # the last: a gold or predicted label outside ``labels``
    pairs = np.array([index.get(g, k - 1) * k + index.get(q, k - 1) for g, q in zip(gold, pred, strict=True)])
    if not len(pairs):
        raise ValueError("no comments to resample")
    draws = np.random.default_rng(seed).integers(0, len(pairs), (rounds, len(pairs)))
    cells = (pairs[draws] + np.arange(rounds)[:, None] * k * k).ravel()
    counts = np.bincount(cells, minlength=rounds * k * k).reshape(rounds, k, k)
    hits = counts[:, np.arange(k - 1), np.arange(k - 1)]
    both = counts.sum(axis=2)[:, : k - 1] + counts.sum(axis=1)[:, : k - 1]  # gold + predicted, per label
    f1 = np.divide(2 * hits, both, out=np.zeros(hits.shape), where=both > 0)
    values = np.round(f1[:, index[positive]] if positive is not None else f1.mean(axis=1), 4)
    return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]


def live_comments_report(
    model: CommentModel, settings: Settings | None = None, *, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The annotated test rooms (never trained on): liveloop beside the majority class, SnowNLP, the
    question regular expression and, when given, the previous model's predictions (``previous``: lists
    ``sentiment``, ``intent`` and ``aspects`` for the test texts, in order); 95 % bootstrap intervals."""
    from liveloop.live import annotated
    from liveloop.live.scoring import aspect_report, intent_report, question_report, sentiment_report

    df = annotated.load(settings)
    test, train = df[df["split"] == "test"].reset_index(drop=True), df[df["split"] == "train"]
    texts = test["text"].tolist()
    ours = model.analyze(texts)
    ours_asks = np.isin(np.asarray(ours.intent, dtype=object), annotated.QUESTION_INTENTS)
    snow, cuts = snownlp_three_way(train, texts)
    regex = test["text"].str.contains(QUESTION_REGEX, regex=True).to_numpy()
    asks = annotated.is_question(test["intent"])

    out: dict[str, Any] = {
        "annotated_set": {"agreement": annotated.agreement(df), "splits": annotated.summary(df)},
        "test_rooms": sorted(int(r) for r in test["room_id"].unique()),
        "n": len(test),
        "sentiment": {
            "liveloop": {**sentiment_report(test["sentiment"], ours.sentiment),
                         "ci95_macro_f1": bootstrap_f1(test["sentiment"], ours.sentiment, SENTIMENTS)},
            "majority_neutral": sentiment_report(test["sentiment"], ["neutral"] * len(test)),
            "snownlp": {**sentiment_report(test["sentiment"], snow), "cutoffs_from_training_room": cuts},
        },
        "question": {
            "liveloop": {**question_report(test["intent"], ours_asks),
                         "ci95_f1": bootstrap_f1(asks, ours_asks, (False, True), positive=True)},
            "regex": question_report(test["intent"], regex),
            "never": question_report(test["intent"], np.zeros(len(test), dtype=bool)),
        },
        "intent": intent_report(test["intent"], ours.intent),
        "aspects": aspect_report(test["aspects"].tolist(), list(ours.aspects), corpora.ALL_ASPECTS),
    }  # fmt: skip
    if previous is not None:
        prev_asks = np.isin(np.asarray(previous["intent"], dtype=object), annotated.QUESTION_INTENTS)
        out["sentiment"]["previous_model"] = sentiment_report(test["sentiment"], previous["sentiment"])
        out["question"]["previous_model"] = question_report(test["intent"], prev_asks)
        out["aspects_previous_model"] = aspect_report(
            test["aspects"].tolist(), previous["aspects"], corpora.ALL_ASPECTS
        )
    return out
