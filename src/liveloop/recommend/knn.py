"""Item-kNN: cosine similarity of item co-occurrence columns, pruned to each item's nearest neighbours."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions


def prune_rows(m: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest entries of each CSR row (vectorised; ties by column)."""
    m = m.tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    keep = order[rank < n]
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape, dtype=np.float32)


class ItemKNN(Retriever):
    """score(u, i) = sum over the user's items j of sim(j, i); sim = cosine with shrinkage."""

    name = "itemknn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, binary: bool = True):
        self.neighbours = neighbours
        self.shrink = shrink
        self.binary = binary

    def fit(self, data: Interactions) -> Self:
        x = data.binary() if self.binary else data.matrix.copy()
        x = x.tocsc().astype(np.float32)
        co = (x.T @ x).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
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
