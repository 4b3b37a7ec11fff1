"""Similar users from implicit-feedback ALS embeddings (``implicit``), with top-k cosine lookup."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from liveloop.core.errors import InsufficientData, NotFound


@dataclass
class SimilarUsers:
    """ALS user embeddings from (user, item, weight) interactions; ``similar`` returns nearest users."""

    factors: int = 32
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 10.0
    seed: int = 0
    users_: list[str] = field(default_factory=list)
    items_: list[str] = field(default_factory=list)
    user_vecs_: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    matrix_: sparse.csr_matrix | None = None
    _idx: dict[str, int] = field(default_factory=dict, repr=False)

    def fit(self, interactions: pd.DataFrame) -> SimilarUsers:
        """``interactions``: columns user_id, item, weight (repeated pairs are summed)."""
        from implicit.als import AlternatingLeastSquares

        df = interactions.groupby(["user_id", "item"], as_index=False)["weight"].sum()
        if df["user_id"].nunique() < 2 or df["item"].nunique() < 2:
            raise InsufficientData("similar users need at least two users and two items with interactions")
        users = pd.Index(sorted(df["user_id"].astype(str).unique()))
        items = pd.Index(sorted(df["item"].astype(str).unique()))
        rows = users.get_indexer(df["user_id"].astype(str))
        cols = items.get_indexer(df["item"].astype(str))
        mat = sparse.csr_matrix(
            (df["weight"].to_numpy(dtype=np.float32) * self.alpha, (rows, cols)),
            shape=(len(users), len(items)),
        )
        als = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=2,
            calculate_training_loss=False,
        )
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit runs its own threads; nested BLAS threads thrash
            als.fit(mat, show_progress=False)
        vecs = np.asarray(als.user_factors, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        self.user_vecs_ = vecs / np.where(norms > 0, norms, 1.0)
        self.users_, self.items_, self.matrix_ = list(users), list(items), mat
        return self

    def _row(self, user_id: str) -> int:
        row = self._index().get(str(user_id))
        if row is None:
            raise NotFound(
                f"user {user_id!r} has no interactions in the similar-users model", field="user_id"
            )
        return row

    def _index(self) -> dict[str, int]:
        if len(self._idx) != len(self.users_):
            self._idx = {u: i for i, u in enumerate(self.users_)}
        return self._idx

    def similar(self, user_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` most similar users (cosine of ALS embeddings), best first, excluding the user."""
        i = self._row(user_id)
        sims = self.user_vecs_ @ self.user_vecs_[i]
        sims[i] = -np.inf
        k = min(k, len(sims) - 1)
        top = np.argpartition(-sims, k - 1)[:k] if k > 0 else np.array([], dtype=int)
        top = top[np.argsort(-sims[top])]
        return [(self.users_[j], float(sims[j])) for j in top]

    def recommend_from_neighbours(
        self, user_id: str, k: int = 10, neighbours: int = 20, exclude_seen: bool = False
    ) -> list[str]:
        """Items the user's nearest neighbours interacted with, weighted by similarity (user-based CF)."""
        assert self.matrix_ is not None
        near = self.similar(user_id, neighbours)
        if not near:
            return []
        idx = [self._index()[u] for u, _ in near]
        w = np.clip(np.array([s for _, s in near], dtype=np.float32), 0, None)
        scores = np.asarray(self.matrix_[idx].multiply(w[:, None]).sum(axis=0)).ravel()
        if exclude_seen:
            scores[self.matrix_[self._index()[str(user_id)]].indices] = 0
        top = np.argsort(-scores)[:k]
        return [self.items_[j] for j in top if scores[j] > 0]

    def save(self, path: Path) -> None:
        Path(path).write_bytes(pickle.dumps(self))

    @classmethod
    def load(cls, path: Path) -> SimilarUsers:
        model = pickle.loads(Path(path).read_bytes())
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a SimilarUsers model")
        return model
