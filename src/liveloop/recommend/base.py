"""The retriever contract: sklearn-style ``fit`` / ``score`` / ``recommend`` / ``save`` / ``load``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from liveloop.recommend.interactions import Interactions
from liveloop.warehouse.artifacts import load_object, save_object


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise indices and values of the ``k`` highest scores, best first (ties by lower index)."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.empty((scores.shape[0], 0), np.int64), np.empty((scores.shape[0], 0), scores.dtype)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(scores, idx, axis=1)


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Set the scores of items each user already interacted with to -inf (in place)."""
    rows = seen[users]
    r, c = rows.nonzero()
    scores[r, c] = -np.inf
    return scores


class Retriever:
    """Scores every item for a batch of known users. Subclasses implement ``fit`` and ``score``."""

    name = "retriever"
    seed: int = 0

    def fit(self, data: Interactions) -> Self:
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        """A (len(users), n_items) float32 array; higher is better."""
        raise NotImplementedError

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores for an ad-hoc history (a new or just-changed user); default: not supported -> zeros."""
        return np.zeros(self.n_items_, np.float32)

    def recommend(
        self, users: np.ndarray, k: int = 10, *, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores per user, excluding the items in ``exclude``."""
        users = np.asarray(users, dtype=np.int64)
        scores = self.score(users).astype(np.float32, copy=True)
        if exclude is not None:
            mask_seen(scores, exclude, users)
        return top_k(scores, k)

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def save(self, path: Path | str) -> Path:
        return save_object(self, path)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        return load_object(path, cls)

    n_items_: int = 0
