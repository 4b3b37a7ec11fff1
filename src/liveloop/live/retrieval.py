"""Lexical similarity for short questions: jieba/English tokens with BM25, character-bigram TF-IDF.

Shared by the FAQ answerer (:mod:`liveloop.live.qa`) and its evaluation on ATEC and Amazon QA.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import jieba
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from liveloop.live.text import clean

jieba.setLogLevel(60)
_TOKEN_RE = re.compile(r"[\w]+", re.UNICODE)
STOP = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "啊",
        "吧",
        "是",
        "我",
        "你",
        "这",
        "那",
        "么",
        "和",
        "就",
        "也",
        "都",
        "在",
        "有",
        "a",
        "an",
        "the",
        "is",
        "are",
        "to",
        "of",
        "and",
        "or",
        "it",
        "this",
        "i",
        "do",
        "does",
        "can",
    ]
)
#: Question words: they say *that* something is asked, not *what*; content matching ignores them.
QUESTION_WORDS = frozenset(
    [
        "什么",
        "什么时候",
        "啥时候",
        "时候",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "多少",
        "哪",
        "哪里",
        "哪个",
        "几",
        "能",
        "能不能",
        "可以",
        "可不可以",
        "有没有",
        "是不是",
        "吗",
        "呢",
        "what",
        "how",
        "when",
        "where",
        "which",
        "why",
        "who",
        "will",
        "would",
        "should",
        "could",
    ]
)


def content_tokens(text: object) -> list[str]:
    """:func:`tokens` without question words."""
    return [t for t in tokens(text) if t not in QUESTION_WORDS]


def tokens(text: object) -> list[str]:
    """jieba words for Chinese, lower-cased words for English; stop words and punctuation dropped."""
    out = []
    for piece in jieba.lcut(clean(text).lower()):
        if _TOKEN_RE.fullmatch(piece) and piece not in STOP:
            out.append(piece)
    return out


class BM25Matrix:
    """BM25 as a sparse document-term weight matrix, so many query/document pairs score at once."""

    def __init__(self, analyzer: Callable[[object], list[str]] = tokens, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.vectorizer = CountVectorizer(analyzer=analyzer, dtype=np.float32)

    def fit(self, corpus: Sequence[str]) -> BM25Matrix:
        counts = self.vectorizer.fit_transform(corpus)
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.avgdl = float(counts.sum() / max(n, 1)) or 1.0
        return self

    def documents(self, docs: Sequence[str]) -> sp.csr_matrix:
        """BM25 term weights of ``docs`` (rows)."""
        tf = self.vectorizer.transform(docs).tocsr().astype(np.float32)
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / self.avgdl)
        rows = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
        tf.data = tf.data * (self.k1 + 1) / (tf.data + norm[rows]) * self.idf[tf.indices]
        return tf

    def queries(self, queries: Sequence[str]) -> sp.csr_matrix:
        q = self.vectorizer.transform(queries).tocsr()
        q.data[:] = 1.0
        return q

    def pair_scores(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        """BM25 of query i against document i, for every i."""
        return np.asarray(self.queries(queries).multiply(self.documents(docs)).sum(axis=1)).ravel()


class CharCosine:
    """Cosine similarity of character 1–2-gram TF-IDF vectors (robust to typos and segmentation)."""

    def __init__(self) -> None:
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True, preprocessor=lambda t: clean(t).lower()
        )

    def fit(self, corpus: Sequence[str]) -> CharCosine:
        self.vectorizer.fit(corpus)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.vectorizer.transform(texts).tocsr()

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        return np.asarray(self.transform(a).multiply(self.transform(b)).sum(axis=1)).ravel()
