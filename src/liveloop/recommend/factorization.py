"""Matrix factorisation for implicit feedback: ALS and BPR from the ``implicit`` library."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions


def _as_numpy(a: Any) -> np.ndarray:
    return a.to_numpy() if hasattr(a, "to_numpy") else np.asarray(a)


class _Factorization(Retriever):
    model_: Any
    log_weights: bool = False

    def _make(self) -> Any:
        raise NotImplementedError

    def _transform(self, m: sp.csr_matrix) -> sp.csr_matrix:
        """Confidence weights from raw event weights (log1p damps heavy repeat viewers)."""
        m = sp.csr_matrix(m, dtype=np.float32, copy=True)
        if self.log_weights:
            m.data = np.log1p(m.data).astype(np.float32)
        return m

    def _weights(self, data: Interactions) -> sp.csr_matrix:
        return self._transform(data.matrix)

    def fit(self, data: Interactions) -> Self:
        self.model_ = self._make()
        self.user_items_ = self._weights(data)
        self.model_.fit(self.user_items_, show_progress=False)
        self.n_items_ = data.n_items
        return self

    @property
    def user_factors(self) -> np.ndarray:
        return _as_numpy(self.model_.user_factors)

    @property
    def item_factors(self) -> np.ndarray:
        return _as_numpy(self.model_.item_factors)

    def score(self, users: np.ndarray) -> np.ndarray:
        return (self.user_factors[users] @ self.item_factors.T).astype(np.float32)

    def _fold_in(self, row: sp.csr_matrix) -> np.ndarray:
        v = self.item_factors[row.indices]
        return np.asarray((row.data[:, None] * v).sum(axis=0) / max(row.data.sum(), 1e-6), np.float32)

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        if len(items) == 0:
            return np.zeros(self.n_items_, np.float32)
        w = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32)
        row = sp.csr_matrix((w, (np.zeros(len(items), int), items)), shape=(1, self.n_items_))
        row.sum_duplicates()
        return (self.item_factors @ self._fold_in(row)).astype(np.float32)


class ALS(_Factorization):
    """Weighted ALS (Hu, Koren, Volinsky 2008) via ``implicit``; supports incremental user/item refits."""

    name = "als"

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 10.0,
        alpha: float = 1.0,
        iterations: int = 15,
        log_weights: bool = True,
        num_threads: int = 1,
        seed: int = 0,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.log_weights = log_weights
        self.num_threads = num_threads
        self.seed = seed

    def _make(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.seed,
        )

    def _fold_in(self, row: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self.model_.recalculate_user(0, row), np.float32).ravel()

    def partial_fit_users(self, users: np.ndarray, user_items: sp.csr_matrix) -> Self:
        """Re-solve the factors of ``users`` (rows of ``user_items``, same item space) without a retrain."""
        self.model_.partial_fit_users(np.asarray(users), self._transform(user_items))
        return self

    def partial_fit_items(self, items: np.ndarray, item_users: sp.csr_matrix) -> Self:
        self.model_.partial_fit_items(np.asarray(items), self._transform(item_users))
        return self


class BPR(_Factorization):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via ``implicit``."""

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        log_weights: bool = False,
        num_threads: int = 1,
        seed: int = 0,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.log_weights = log_weights
        self.num_threads = num_threads
        self.seed = seed

    def _make(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.seed,
        )

    def _weights(self, data: Interactions) -> sp.csr_matrix:
        return data.binary()
