"""Similar users from implicit-feedback ALS embeddings (``implicit``), with top-k cosine lookup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from liveloop.core.errors import InsufficientData, NotFound
from liveloop.warehouse.artifacts import Pickled


@dataclass
class SimilarUsers(Pickled):
    """ALS user embeddings from (user, item, weight) interactions; ``similar`` returns nearest users.

    ``keep_matrix=False`` drops the interaction matrix after fitting (smaller artifact; no
    ``recommend_from_neighbours``)."""

    factors: int = 32
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 10.0
    seed: int = 0
    keep_matrix: bool = True
    max_fit_users: int = 25_000
    users_: list[str] = field(default_factory=list)
    items_: list[str] = field(default_factory=list)
    user_vecs_: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    matrix_: sparse.csr_matrix | None = None
    _idx: dict[str, int] = field(default_factory=dict, repr=False)

    def fit(self, interactions: pd.DataFrame | pa.Table) -> SimilarUsers:
        """``interactions``: columns user_id, item, weight (a DataFrame or an Arrow table; repeated pairs
        are summed).

        ALS is fitted on a seeded sample of at most ``max_fit_users`` users (bounded cost); every user's
        factors are then solved exactly against the fitted item factors (one least-squares step each)."""
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        table = interactions if isinstance(interactions, pa.Table) else pa.Table.from_pandas(interactions)
        rows, users = _codes(table["user_id"])
        cols, items = _codes(table["item"])
        if len(users) < 2 or len(items) < 2:
            raise InsufficientData("similar users need at least two users and two items with interactions")
        weights = table["weight"].to_numpy().astype(np.float32)
        mat = sparse.csr_matrix(  # duplicates are summed
            (weights * self.alpha, (rows, cols)), shape=(len(users), len(items))
        )
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; nested BLAS threads thrash
            als = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=2,
                calculate_training_loss=False,
            )
            if len(users) <= self.max_fit_users:
                als.fit(mat, show_progress=False)
                vecs = np.asarray(als.user_factors, dtype=np.float32)
            else:
                sample = np.random.default_rng(self.seed).choice(
                    len(users), self.max_fit_users, replace=False
                )
                als.fit(mat[np.sort(sample)], show_progress=False)
                vecs = np.asarray(als.recalculate_user(np.arange(len(users)), mat), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        self.user_vecs_ = vecs / np.where(norms > 0, norms, 1.0)
        self.users_, self.items_ = users, items
        self.matrix_ = mat if self.keep_matrix else None
        self._idx = {}
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
        self._row(user_id)
        return self.recommend_batch([user_id], k, neighbours, exclude_seen)[0]

    def recommend_batch(
        self,
        user_ids: list[str],
        k: int = 10,
        neighbours: int = 20,
        exclude_seen: bool = False,
        chunk: int = 256,
    ) -> list[list[str]]:
        """``recommend_from_neighbours`` for many users at once: similarities, neighbours and item scores as
        matrix products, ``chunk`` users at a time (memory: chunk x users floats)."""
        if self.matrix_ is None:
            raise InsufficientData("this similar-users model was saved without its interaction matrix")
        index = self._index()
        rows = np.array([index[str(u)] for u in user_ids], dtype=np.int64)
        n = len(self.users_)
        nb = min(neighbours, n - 1)
        out: list[list[str]] = []
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            sims = self.user_vecs_[part] @ self.user_vecs_.T
            sims[np.arange(len(part)), part] = -np.inf
            if nb <= 0:
                out.extend([] for _ in part)
                continue
            near = np.argpartition(-sims, nb - 1, axis=1)[:, :nb]
            w = np.clip(np.take_along_axis(sims, near, axis=1), 0, None).astype(np.float32)
            weights = sparse.csr_matrix(
                (w.ravel(), (np.repeat(np.arange(len(part)), nb), near.ravel())), shape=(len(part), n)
            )
            scores = np.asarray((weights @ self.matrix_).todense())
            if exclude_seen:
                seen = self.matrix_[part].tocoo()
                scores[seen.row, seen.col] = 0
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            for r, items in enumerate(top):
                out.append([self.items_[j] for j in items if scores[r, j] > 0])
        return out


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a string column, numbered in sorted order of the values (Arrow, no Python objects
    per row: deterministic whatever order the rows came in)."""
    encoded = pc.dictionary_encode(column.combine_chunks().cast(pa.string()))
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[encoded.indices.to_numpy(zero_copy_only=False)], encoded.dictionary.take(order).to_pylist()


def neighbour_holdout(
    train: pd.DataFrame, test: pd.DataFrame, *, k: int = 10, max_test: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """User-based CF from ALS neighbours, fitted on ``train``: precision/recall@k of the next-window items in
    ``test`` (users of both, a seeded sample of at most ``max_test``) beside the popularity top-k."""
    model = SimilarUsers(seed=seed).fit(train)
    popular = train.groupby("item")["weight"].sum().nlargest(k).index.astype(str).tolist()
    test = test.assign(user_id=test["user_id"].astype(str), item=test["item"].astype(str))
    test = test[test["user_id"].isin(set(model.users_))]
    truth: dict[str, set[str]] = test.groupby("user_id")["item"].agg(set).to_dict()
    if not truth:
        raise InsufficientData("no users active in both the training and the test window")
    users = sorted(truth)
    if len(users) > max_test:
        users = sorted(np.random.default_rng(seed).choice(users, max_test, replace=False).tolist())

    def prf(recs: list[list[str]]) -> dict[str, Any]:
        hits = np.array([len(set(got) & truth[u]) for u, got in zip(users, recs, strict=True)], dtype=float)
        pm = float(np.mean(hits / k))
        rm = float(np.mean(hits / np.array([len(truth[u]) for u in users])))
        f1 = 2 * pm * rm / (pm + rm) if pm + rm else 0.0
        return {"accuracy": round(100 * pm, 2), "recall": round(100 * rm, 2), "f1": round(f1, 4), "auc": None}

    return prf(model.recommend_batch(users, k)) | {
        "baseline": {"name": f"popularity top {k}"} | prf([popular] * len(users)),
        "n_test": len(users),
        "metric_note": f"accuracy = precision@{k}, recall = recall@{k}, F1 of the two",
    }
