"""Content-based retrieval: TF-IDF over titles and attributes (jieba for Chinese, words for English)."""

from __future__ import annotations

import re
from typing import Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from liveloop.core.errors import InsufficientData
from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions

_CJK = re.compile(r"[\u4e00-\u9fff]")
_TOKEN = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens: jieba words for Chinese runs, word characters otherwise."""
    text = str(text or "").lower()
    if _CJK.search(text):
        import jieba

        jieba.setLogLevel(60)
        words = jieba.lcut(text)
    else:
        words = _TOKEN.findall(text)
    return [w for w in (w.strip() for w in words) if w and _TOKEN.fullmatch(w)]


class ContentBased(Retriever):
    """A user's profile is the weighted mean of the TF-IDF vectors of the items they touched."""

    name = "content"

    def __init__(self, text_column: str = "text", max_features: int = 50_000):
        self.text_column = text_column
        self.max_features = max_features

    def fit(self, data: Interactions) -> Self:
        meta = data.items_meta
        if meta is None or self.text_column not in meta:
            raise InsufficientData("content-based retrieval needs item text (titles or attributes)")
        texts = meta[self.text_column].fillna("").astype(str).tolist()
        self.vectorizer_ = TfidfVectorizer(
            tokenizer=tokenize,
            lowercase=False,
            token_pattern=None,
            max_features=self.max_features,
            sublinear_tf=True,
        )
        try:
            self.item_vectors_ = normalize(self.vectorizer_.fit_transform(texts)).astype(np.float32).tocsr()
        except ValueError as exc:  # empty vocabulary
            raise InsufficientData("content-based retrieval found no words in the item texts") from exc
        m = data.matrix.copy()
        m.data = np.log1p(m.data)
        self.user_items_ = normalize(m, norm="l1").astype(np.float32)
        self.n_items_ = data.n_items
        return self

    def _profiles(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        return normalize(rows @ self.item_vectors_)

    def score(self, users: np.ndarray) -> np.ndarray:
        prof = self._profiles(self.user_items_[users])
        return np.asarray((prof @ self.item_vectors_.T).todense(), dtype=np.float32)

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        if len(items) == 0:
            return np.zeros(self.n_items_, np.float32)
        w = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32)
        row = sp.csr_matrix((w, (np.zeros(len(items), int), items)), shape=(1, self.n_items_))
        return np.asarray((self._profiles(row) @ self.item_vectors_.T).todense(), dtype=np.float32).ravel()

    def similar_to_text(self, text: str, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue items closest to a free text (a new item's title: cold start for items)."""
        v = normalize(self.vectorizer_.transform([text]))
        s = np.asarray((v @ self.item_vectors_.T).todense()).ravel()
        order = np.lexsort((np.arange(len(s)), -s))[:n]
        return order, s[order]
