"""Matrix factorisation for implicit feedback: ALS (``implicit``) and BPR (uniform-negative SGD)."""

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
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit runs its own threads; nested BLAS threads thrash
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


class BPR(Retriever):
    """Bayesian Personalised Ranking (Rendle et al. 2009) with item biases and uniform negatives.

    Plain SGD over (user, item, sampled non-item) triples as in cornac's BPR, in mini-batches
    (PyTorch ``index_add_``). ``implicit``'s BPR samples negatives in proportion to item popularity,
    which on MovieLens pushes popular items down (NDCG@10 0.30 against 0.44 published).
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 200,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 200,
        batch_size: int = 4096,
        seed: int = 0,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, data: Interactions) -> Self:
        import torch

        rng = np.random.default_rng(self.seed)
        m = data.binary()
        n_users, n_items = m.shape
        users = np.repeat(np.arange(n_users), np.diff(m.indptr)).astype(np.int64)
        items = m.indices.astype(np.int64)
        keys = np.sort(users * n_items + items)
        f, lr, reg = self.factors, self.learning_rate, self.regularization
        u_f = torch.from_numpy(((rng.random((n_users, f)) - 0.5) / f).astype(np.float32))
        i_f = torch.from_numpy(((rng.random((n_items, f)) - 0.5) / f).astype(np.float32))
        bias = torch.zeros(n_items)
        t_users, t_items = torch.from_numpy(users), torch.from_numpy(items)
        n = len(users)
        for _ in range(self.iterations if n else 0):
            pick = rng.integers(0, n, n)
            neg = rng.integers(0, n_items, n)
            key = users[pick] * n_items + neg
            ok = keys[np.minimum(np.searchsorted(keys, key), n - 1)] != key  # skip items the user has
            pick_t, neg_t = torch.from_numpy(pick[ok]), torch.from_numpy(neg[ok])
            for start in range(0, len(pick_t), self.batch_size):
                idx, j = pick_t[start : start + self.batch_size], neg_t[start : start + self.batch_size]
                u, i = t_users[idx], t_items[idx]
                pu, qi, qj = u_f[u], i_f[i], i_f[j]
                z = torch.sigmoid(-(bias[i] - bias[j] + (pu * (qi - qj)).sum(1)))
                zc = z[:, None]
                u_f.index_add_(0, u, lr * (zc * (qi - qj) - reg * pu))
                i_f.index_add_(0, i, lr * (zc * pu - reg * qi))
                i_f.index_add_(0, j, lr * (-zc * pu - reg * qj))
                bias.index_add_(0, i, lr * (z - reg * bias[i]))
                bias.index_add_(0, j, lr * (-z - reg * bias[j]))
        self.user_factors_, self.item_factors_ = u_f.numpy(), i_f.numpy()
        self.item_bias_ = bias.numpy()
        self.n_items_ = n_items
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return (self.user_factors_[users] @ self.item_factors_.T + self.item_bias_).astype(np.float32)

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Fold-in: the user vector is the weighted mean of the history's item vectors."""
        if len(items) == 0:
            return np.zeros(self.n_items_, np.float32)
        w = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32)
        vec = (w[:, None] * self.item_factors_[items]).sum(axis=0) / max(float(w.sum()), 1e-6)
        return (self.item_factors_ @ vec + self.item_bias_).astype(np.float32)


class SparkALS(_Factorization):
    """Weighted ALS on Spark MLlib (``implicitPrefs``): the same model as :class:`ALS` trained where the
    interactions outgrow one machine (``LIVELOOP_SPARK_MASTER``). MLlib scales the regularisation by
    each user's and item's number of interactions (ALS-WR), so its ``regularization`` and ``alpha`` are
    not ``implicit``'s: 0.3 and 3 were chosen on a validation split carved from MovieLens' training part
    (``benchmarks/bench_spark.py``). New histories are folded in as the weighted mean of their items'
    factors."""

    name = "als_spark"

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.3,
        alpha: float = 3.0,
        iterations: int = 15,
        log_weights: bool = True,
        master: str | None = None,
        seed: int = 0,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.log_weights = log_weights
        self.master = master
        self.seed = seed

    def fit(self, data: Interactions) -> Self:
        from pyspark.ml.recommendation import ALS as MLlibALS

        from liveloop.core.config import get_settings
        from liveloop.warehouse.spark import spark_session

        session = spark_session(self.master or get_settings().spark_master)
        m = self._weights(data).tocoo()
        rows = zip(m.row.tolist(), m.col.tolist(), m.data.tolist(), strict=True)
        frame = session.createDataFrame(rows, schema="user INT, item INT, weight FLOAT")
        als = MLlibALS(
            rank=self.factors,
            maxIter=self.iterations,
            regParam=self.regularization,
            alpha=self.alpha,
            implicitPrefs=True,
            userCol="user",
            itemCol="item",
            ratingCol="weight",
            seed=self.seed,
            coldStartStrategy="drop",
        )
        model = als.fit(frame)
        self.user_factors_ = _dense(model.userFactors, data.n_users, self.factors)
        self.item_factors_ = _dense(model.itemFactors, data.n_items, self.factors)
        self.user_items_ = self._weights(data)
        self.n_items_ = data.n_items
        return self

    @property
    def user_factors(self) -> np.ndarray:
        return self.user_factors_

    @property
    def item_factors(self) -> np.ndarray:
        return self.item_factors_

    def _solve(self, rows: sp.csr_matrix) -> np.ndarray:
        """MLlib's implicit user step with the item factors fixed, one row each: x = (YᵀY + Yᵀ(C−I)Y +
        λ·n·I)⁻¹ YᵀCp, with confidence c = 1 + α·w on the n items of the row (preference 1 there)."""
        y = self.item_factors_.astype(np.float64)
        yty, eye = y.T @ y, np.eye(self.factors)
        out = np.zeros((rows.shape[0], self.factors), np.float32)
        for i in range(rows.shape[0]):
            items = rows.indices[rows.indptr[i] : rows.indptr[i + 1]]
            if len(items) == 0:
                continue
            c = 1.0 + self.alpha * rows.data[rows.indptr[i] : rows.indptr[i + 1]].astype(np.float64)
            yi = y[items]
            a = yty + (yi.T * (c - 1.0)) @ yi + self.regularization * len(items) * eye
            out[i] = np.linalg.solve(a, yi.T @ c)
        return out

    def _fold_in(self, row: sp.csr_matrix) -> np.ndarray:
        return self._solve(self._transform(row))[0]

    def partial_fit_users(self, users: np.ndarray, user_items: sp.csr_matrix) -> Self:
        """Re-solve the factors of ``users`` (rows of ``user_items``) on this process, without Spark."""
        self.user_factors_[np.asarray(users)] = self._solve(self._transform(user_items))
        return self


def _dense(factors: Any, n: int, rank: int) -> np.ndarray:
    """MLlib's (id, features) rows as an (n, rank) array; ids it never saw stay zero."""
    out = np.zeros((n, rank), np.float32)
    for row in factors.collect():
        out[row["id"]] = np.asarray(row["features"], np.float32)
    return out
