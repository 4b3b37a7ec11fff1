"""Hashed character/word n-gram features and small linear heads over them.

One featurisation serves every head (sentiment, question, intent, aspects, review polarity), so scoring
a batch of comments is one vectorisation and a few sparse-dense products. Chinese needs no word
segmentation here: character 1–3-grams carry the words (with ``^`` and ``$`` marking the ends of the
comment, so "吗$" and "^?" are features of their own), word 1–2-grams carry English, and a few marker
features carry what n-grams see badly in three-character comments (length, question forms).
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
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from liveloop.live.normalize import normalize as normalize_live

_WORD_RE = re.compile(r"[a-z][a-z0-9]+")
_TRAIL = re.compile(r"[\s!.~…。,，、]+$")
_Q_WORD = re.compile(r"什么|怎么|为什么|为啥|哪|谁|几|多少|啥|咋|如何|what|how|why|when|where|which|who")
#: Question words that ask nothing: exclamations (怎么这么好看) and "any" statements (什么都行).
_Q_EXCLAIM = re.compile(r"怎么(会)?这么|多么|什么都|啥都|谁都|怎么都|什么鬼|为什么[!—-]")
_Q_PARTICLE = re.compile(r"(吗|呢|么|嘛|捏|不|没|没有|吧)$")
_Q_AB = re.compile(r"(?<!不)(.)[不没]\1(?!不)")
_REPEATED_NOT = re.compile(r"(不.)\1")
_PUNCT = re.compile(r"[?!\s]")
#: Weight of each marker feature beside the L2-normalised n-grams (development folds: 0.5 and 1.0 gave
#: question F1 0.893 and 0.893, without markers 0.871).
MARKER_WEIGHT = 0.5


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


def markers(text: str) -> list[str]:
    """Length bucket and the question forms of the annotation guide's rule 1 (a question mark after words,
    a final particle, a question word that asks, an A-not-A form, and the exclamations that are not
    questions), as ``@``-prefixed feature names of a cleaned comment."""
    n = len(text) - text.count(" ")
    size = (
        "1" if n <= 1 else "2" if n <= 2 else "4" if n <= 4 else "8" if n <= 8 else "16" if n <= 16 else "L"
    )
    out = ["@len" + size]
    body = _TRAIL.sub("", text)
    words = _PUNCT.sub("", body)
    if not words:
        out.append("@noword" + ("?" if "?" in text else "!" if "!" in text else ""))
        return out
    if body.endswith("?"):
        out.append("@q_end")
    elif body.startswith("?"):
        out.append("@q_lead")
    particle = _Q_PARTICLE.search(body.rstrip("?"))
    if particle:
        out.append("@q_particle_" + particle.group(1))
    exclaim = _Q_EXCLAIM.search(body)
    if exclaim:
        out.append("@q_exclaim")
    elif _Q_WORD.search(body):
        out.append("@q_word")
    if _Q_AB.search(body) and not _REPEATED_NOT.search(body):
        out.append("@q_ab")
    if "!" in text:
        out.append("@excl")
    return out


class TextFeaturizer:
    """Normalised text (:mod:`liveloop.live.normalize`) as hashed character 1–3-grams with end marks,
    English word 1–2-grams and a domain token (log counts, L2-normalised), plus the :func:`markers` at a
    fixed weight of their own (so a three-character comment's question mark is not diluted)."""

    def __init__(self, n_features: int = 2**18, max_n: int = 3, marker_weight: float = MARKER_WEIGHT):
        self.n_features, self.max_n, self.marker_weight = n_features, max_n, marker_weight
        self._hasher = FeatureHasher(n_features, input_type="string", alternate_sign=False, dtype=np.float32)

    def tokens(self, cleaned: str, domain: str = "live") -> list[str]:
        """The n-gram feature names of one cleaned text (see :func:`liveloop.live.text.clean`)."""
        return [*grams(f"^{normalize_live(cleaned)}$", self.max_n), f"@dom:{domain}"]

    def counts(self, cleaned: Sequence[str], domain: str = "live") -> sp.csr_matrix:
        """Log counts of the n-grams, not yet normalised (:func:`finish` applies weights and the L2 norm)."""
        X = self._hasher.transform(self.tokens(t, domain) for t in cleaned)
        X.data = np.log1p(X.data)
        return X.tocsr()

    def marks(self, cleaned: Sequence[str]) -> sp.csr_matrix:
        """The :func:`markers` of each text, one column each, at ``marker_weight``."""
        M = self._hasher.transform(markers(t) for t in cleaned).tocsr()
        M.data[:] = self.marker_weight
        return M

    def transform(self, cleaned: Sequence[str], domain: str = "live") -> sp.csr_matrix:
        """Live-head features: normalised n-grams plus the markers."""
        return self.add_marks(finish(self.counts(cleaned, domain)), cleaned)

    def add_marks(self, X: sp.csr_matrix, cleaned: Sequence[str]) -> sp.csr_matrix:
        return (X + self.marks(cleaned)).tocsr()


def finish(X: sp.csr_matrix, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """Column-weighted (e.g. by IDF) and L2-normalised rows; ``X`` is left as it was."""
    if weights is not None:
        X = X.copy()
        X.data = X.data * weights[X.indices]
    return normalize(X, copy=weights is None).tocsr()


def idf_weights(X: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency of each column (as scikit-learn's ``TfidfTransformer``)."""
    df = np.bincount(X.indices, minlength=X.shape[1])
    return (np.log((1 + X.shape[0]) / (1 + df)) + 1).astype(np.float32)


def balanced_weights(labels: Any) -> np.ndarray:
    """Sample weights giving every class the same total weight (mean 1)."""
    y = np.asarray([str(x) for x in labels], dtype=object)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    w = 1.0 / counts[codes]
    return w * len(w) / w.sum()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LinearHead:
    """A logistic-regression head (L2, lbfgs) kept as a weight matrix: scoring is one matrix product.

    ``multilabel=True`` trains one independent binary column per label (``y`` is a 0/1 matrix; with
    ``balanced`` each column's two classes weigh the same); otherwise ``y`` holds class labels
    (multinomial for three or more classes).
    """

    def __init__(
        self, *, C: float = 10.0, multilabel: bool = False, balanced: bool = False, max_iter: int = 2000
    ):
        self.C, self.multilabel, self.balanced, self.max_iter = C, multilabel, balanced, max_iter
        self.classes_: np.ndarray = np.array([])
        self.W: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.b: np.ndarray = np.zeros(0, dtype=np.float32)

    def _lr(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter)

    def fit(
        self,
        X: sp.csr_matrix,
        y: Any,
        classes: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> LinearHead:
        """``rows`` (multilabel only): a boolean matrix shaped like ``y`` saying which rows train each
        label (a label the rows of one source never carry is learnt from the others only)."""
        # fit on the columns the rows use only (a few tens of thousands of the 2^18): the solver's dense
        # vectors shrink as much, and a column no row uses gets weight 0 either way
        used = np.unique(X.indices)
        Xu = X[:, used]
        if self.multilabel:
            Y = np.asarray(y)
            self.classes_ = np.asarray(classes if classes is not None else range(Y.shape[1]))
            W, b = np.zeros((X.shape[1], Y.shape[1]), np.float32), np.zeros(Y.shape[1], np.float32)
            R = np.ones(Y.shape, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
            for j in range(Y.shape[1]):
                y_j, X_j = Y[R[:, j], j], Xu[R[:, j]]
                if 0 < y_j.sum() < len(y_j):
                    w = balanced_weights(y_j) if self.balanced else None
                    if w is None and sample_weight is not None:
                        w = sample_weight[R[:, j]]
                    col = self._lr().fit(X_j, y_j, sample_weight=w)
                    W[used, j], b[j] = col.coef_[0], col.intercept_[0]
                else:  # a label never (or always) seen: a constant column
                    b[j] = -30.0 if y_j.sum() == 0 else 30.0
            self.W, self.b = W, b
            return self
        model = self._lr().fit(Xu, np.asarray(y), sample_weight=sample_weight)
        self.classes_ = model.classes_
        self.W = np.zeros((X.shape[1], model.coef_.shape[0]), np.float32)
        self.W[used] = model.coef_.T
        self.b = model.intercept_.astype(np.float32)
        return self

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.W) + self.b

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """Binary: P(classes_[1]) as one column; multi-class: softmax rows; multilabel: sigmoids."""
        z = self.decision(X)
        if self.multilabel or z.shape[1] == 1:
            return _sigmoid(z)
        return _softmax(z)

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
