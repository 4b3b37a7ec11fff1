"""Hashed character/word n-gram features and small linear heads over them.

One featurisation serves every head (sentiment, intent, aspects), so scoring a batch of comments is
one vectorisation and a few sparse-dense products. Chinese needs no word segmentation here: character
1–3-grams carry the words, and word 1–2-grams carry English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize

_WORD_RE = re.compile(r"[a-z][a-z0-9]+")


def grams(text: str, max_n: int = 3) -> list[str]:
    """Character 1..``max_n``-grams of the lower-cased text, then its English words and word bigrams
    (marked ``#`` so a word never shares a column with the same letters as a character n-gram)."""
    t = text.lower()
    size = len(t)
    out = list(t)
    for n in range(2, max_n + 1):
        out += [t[i : i + n] for i in range(size - n + 1)]
    words = _WORD_RE.findall(t)
    if words:
        out += ["#" + w for w in words]
        out += [f"#{a} {b}" for a, b in pairwise(words)]
    return out


class TextFeaturizer:
    """Character 1–3-grams plus English word 1–2-grams hashed into ``n_features`` columns, log counts,
    L2-normalised: one pure-Python analyzer pass and one hashing pass per batch."""

    def __init__(self, n_features: int = 2**18, max_n: int = 3):
        self.n_features, self.max_n = n_features, max_n
        self._hasher = FeatureHasher(n_features, input_type="string", alternate_sign=False, dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        max_n = self.max_n
        X = self._hasher.transform(grams(t, max_n) for t in texts)
        X.data = np.log1p(X.data)
        return normalize(X, copy=False).tocsr()


def domain_weights(groups: Sequence[object], labels: Sequence[object]) -> np.ndarray:
    """Sample weights giving every domain (data set or product category) the same total weight, each
    keeping its own class mix, then every class the same total weight: big domains do not drown small
    ones, which helps on domains never seen in training. Mean weight 1."""
    g = np.asarray([str(x) for x in groups], dtype=object)
    y = np.asarray([str(x) for x in labels], dtype=object)
    _, g_codes, g_counts = np.unique(g, return_inverse=True, return_counts=True)
    w = 1.0 / g_counts[g_codes]
    classes, y_codes = np.unique(y, return_inverse=True)
    per_class = np.bincount(y_codes, weights=w, minlength=len(classes))
    w = w / per_class[y_codes]
    return w * len(w) / w.sum()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class LinearHead:
    """A one-vs-rest linear classifier trained by SGD (log loss); scores with one matrix product.

    ``multilabel=True`` trains one independent binary column per label (``y`` is a 0/1 matrix);
    otherwise ``y`` holds class labels and ``predict_proba`` normalises the one-vs-rest sigmoids.
    """

    def __init__(
        self,
        *,
        alpha: float = 2e-6,
        epochs: int = 12,
        seed: int = 0,
        balanced: bool = False,
        multilabel: bool = False,
    ):
        self.alpha, self.epochs, self.seed = alpha, epochs, seed
        self.balanced, self.multilabel = balanced, multilabel
        self.classes_: np.ndarray = np.array([])
        self.W: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.b: np.ndarray = np.zeros(0, dtype=np.float32)

    def _sgd(self) -> SGDClassifier:
        return SGDClassifier(
            loss="log_loss",
            alpha=self.alpha,
            max_iter=self.epochs,
            tol=None,
            random_state=self.seed,
            class_weight="balanced" if self.balanced else None,
        )

    def fit(
        self,
        X: sp.csr_matrix,
        y: Any,
        classes: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LinearHead:
        if self.multilabel:
            Y = np.asarray(y)
            self.classes_ = np.asarray(classes if classes is not None else range(Y.shape[1]))
            cols = [self._sgd().fit(X, Y[:, j]) for j in range(Y.shape[1])]
            self.W = np.column_stack([c.coef_[0] for c in cols]).astype(np.float32)
            self.b = np.array([c.intercept_[0] for c in cols], dtype=np.float32)
            return self
        model = self._sgd().fit(X, np.asarray(y), sample_weight=sample_weight)
        self.classes_ = model.classes_
        self.W = model.coef_.T.astype(np.float32)
        self.b = model.intercept_.astype(np.float32)
        return self

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.W) + self.b

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """Binary: P(classes_[1]) as one column; multi-class: normalised rows; multilabel: sigmoids."""
        p = _sigmoid(self.decision(X))
        if self.multilabel or p.shape[1] == 1:
            return p
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)

    def predict(self, X: sp.csr_matrix) -> np.ndarray:
        p = self.predict_proba(X)
        if self.multilabel:
            return (p >= 0.5).astype(int)
        if p.shape[1] == 1:
            return self.classes_[(p[:, 0] >= 0.5).astype(int)]
        return self.classes_[p.argmax(axis=1)]

    # -- persistence: only the touched rows of W, as float16 (a few MB at most) --
    def save(self, path: Path) -> None:
        rows = np.flatnonzero(np.any(self.W != 0, axis=1)).astype(np.int32)
        np.savez_compressed(
            path,
            rows=rows,
            values=self.W[rows].astype(np.float16),
            b=self.b,
            classes=np.asarray(self.classes_).astype(str),
            n_features=self.W.shape[0],
            multilabel=self.multilabel,
        )

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path, allow_pickle=False) as z:
            head = cls(multilabel=bool(z["multilabel"]))
            head.W = np.zeros((int(z["n_features"]), z["values"].shape[1]), dtype=np.float32)
            head.W[z["rows"]] = z["values"].astype(np.float32)
            head.b = z["b"].astype(np.float32)
            classes = z["classes"]
        head.classes_ = classes.astype(int) if np.all(np.char.isdigit(classes)) else classes
        return head
