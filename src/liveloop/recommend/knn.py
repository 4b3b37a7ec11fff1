"""Item-kNN: cosine similarity of item co-occurrence, pruned to each item's nearest neighbours.

``ItemKNN`` counts co-occurrence in the same user's history; ``SequentialKNN`` only within a few
positions of each other in the user's time line (session-based kNN), weighted by 1 / distance.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions


def prune_rows(m: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest entries of each CSR row (ties by column).

    Only the rows with more than ``n`` entries are sorted, each on its own (one small sort per item row:
    10× faster than one global three-key sort of every entry on the Taobao head's 8.6M co-occurrences).
    """
    m = m.tocsr()
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    keep = np.ones(m.nnz, dtype=bool)
    for r in np.flatnonzero(counts > n):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        dropped = np.lexsort((m.indices[lo:hi], -m.data[lo:hi]))[n:]
        keep[lo + dropped] = False
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape, dtype=np.float32)


class ItemKNN(Retriever):
    """score(u, i) = sum over the user's items j of sim(j, i); sim = cosine with shrinkage."""

    name = "itemknn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, binary: bool = True):
        self.neighbours = neighbours
        self.shrink = shrink
        self.binary = binary

    def _cooccurrence(self, data: Interactions) -> tuple[sp.csr_matrix, np.ndarray]:
        """Item x item co-occurrence (zero diagonal) and each item's norm."""
        x = data.binary() if self.binary else data.matrix.copy()
        x = x.tocsc().astype(np.float32)
        co = (x.T @ x).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        return co, np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())

    def fit(self, data: Interactions) -> Self:
        co, norms = self._cooccurrence(data)
        co = co.tocoo()
        denom = norms[co.row] * norms[co.col] + self.shrink
        sim = sp.csr_matrix((co.data / denom, (co.row, co.col)), shape=co.shape, dtype=np.float32)
        self.similarity_ = prune_rows(sim, self.neighbours)
        self.user_items_ = data.binary() if self.binary else data.matrix
        self.n_items_ = data.n_items
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.user_items_[users] @ self.similarity_).todense(), dtype=np.float32)

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        if len(items) == 0:
            return np.zeros(self.n_items_, np.float32)
        w = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32)
        v = sp.csr_matrix((w, (np.zeros(len(items), int), items)), shape=(1, self.n_items_))
        return np.asarray((v @ self.similarity_).todense(), dtype=np.float32).ravel()

    def similar_items(self, item: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        row = self.similarity_[item]
        order = np.lexsort((row.indices, -row.data))[:n]
        return row.indices[order], row.data[order]


class SequentialKNN(ItemKNN):
    """Items that people touch shortly before or after each other (within ``window`` positions)."""

    name = "seqknn"

    def __init__(self, window: int = 10, neighbours: int = 100, shrink: float = 10.0):
        super().__init__(neighbours=neighbours, shrink=shrink, binary=True)
        self.window = window

    def _cooccurrence(self, data: Interactions) -> tuple[sp.csr_matrix, np.ndarray]:
        order = np.lexsort((data.ts, data.user_idx))
        u, i = data.user_idx[order], data.item_idx[order]
        rows, cols, weights = [], [], []
        for d in range(1, min(self.window, max(len(u) - 1, 0)) + 1):
            same = u[d:] == u[:-d]
            rows.append(i[:-d][same])
            cols.append(i[d:][same])
            weights.append(np.full(int(same.sum()), 1.0 / d, np.float32))
        n = data.n_items
        if not rows:
            return sp.csr_matrix((n, n), dtype=np.float32), np.zeros(n)
        co = sp.csr_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        co = (co + co.T).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        return co, np.sqrt(np.asarray(co.sum(axis=1)).ravel())


class EASE(Retriever):
    """EASE (Steck 2019): item-item ridge regression in closed form, ``B = I - P / diag(P)`` with
    ``P = (XᵀX + λI)⁻¹`` and a zero diagonal; score = the user's binary history times ``B``.

    The solve is dense in the catalogue, so only the ``max_items`` most-interacted items take part
    (all of MovieLens 100K's 1,682); the others score 0.
    """

    name = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 5_000):
        self.l2 = l2
        self.max_items = max_items

    def fit(self, data: Interactions) -> Self:
        x = data.binary()
        counts = data.item_counts()
        kept = np.flatnonzero(counts > 0)
        if len(kept) > self.max_items:
            kept = np.sort(kept[np.argsort(-counts[kept], kind="stable")[: self.max_items]])
        sub = x[:, kept].astype(np.float64)
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.kept_ = kept
        self.weights_ = b.astype(np.float32)
        self.user_items_ = x[:, kept].astype(np.float32).tocsr()
        self.n_items_ = data.n_items
        return self

    def _expand(self, s: np.ndarray) -> np.ndarray:
        out = np.zeros((s.shape[0], self.n_items_), np.float32)
        out[:, self.kept_] = s
        return out

    def score(self, users: np.ndarray) -> np.ndarray:
        return self._expand(np.asarray(self.user_items_[users] @ self.weights_, dtype=np.float32))

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        pos = np.searchsorted(self.kept_, items)
        ok = (pos < len(self.kept_)) & (self.kept_[np.minimum(pos, len(self.kept_) - 1)] == items)
        v = np.zeros(len(self.kept_), np.float32)
        v[pos[ok]] = 1.0
        return self._expand((v @ self.weights_)[None, :])[0]
