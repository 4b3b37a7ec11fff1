"""Top-k ranking metrics over a whole evaluation set, vectorised over users."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hit_matrix(recs: np.ndarray, truth: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Boolean (len(users), k): whether each recommended item is in the user's held-out set."""
    rows = truth[users].tocsr()
    rows.data[:] = 1
    hits = np.zeros(recs.shape, dtype=bool)
    for j in range(recs.shape[1]):  # k columns, each a vectorised sparse gather
        hits[:, j] = np.asarray(rows[np.arange(len(users)), recs[:, j]]).ravel() > 0
    return hits


def ranking_metrics(
    recs: np.ndarray,
    truth: sp.csr_matrix,
    users: np.ndarray,
    *,
    k: int,
    item_popularity: np.ndarray | None = None,
    n_train_users: int | None = None,
    catalogue_size: int | None = None,
) -> dict[str, float]:
    """Precision, Recall, NDCG (binary relevance), HitRate, MRR, MAP @k; coverage and novelty.

    NDCG's ideal DCG uses min(|relevant|, k) positions; Recall divides by |relevant| (the
    Microsoft Recommenders definitions). Novelty is the mean self-information -log2(p(i)) of
    recommended items, p(i) the share of training users who interacted with i.
    """
    recs = recs[:, :k]
    hits = hit_matrix(recs, truth, users)
    n_rel = np.diff(truth[users].tocsr().indptr).astype(np.float64)
    ok = n_rel > 0
    hits, n_rel, recs_ok = hits[ok], n_rel[ok], recs[ok]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_rel, k).astype(int) - 1]
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    prec_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    out = {
        "users": int(ok.sum()),
        f"precision@{k}": float(hits.sum(axis=1).mean() / k),
        f"recall@{k}": float((hits.sum(axis=1) / n_rel).mean()),
        f"ndcg@{k}": float((dcg / ideal).mean()),
        f"hitrate@{k}": float(hits.any(axis=1).mean()),
        f"mrr@{k}": float((1.0 / first).mean()),
        f"map@{k}": float(((prec_at * hits).sum(axis=1) / n_rel).mean()),
    }
    n_items = catalogue_size or truth.shape[1]
    out["coverage"] = float(len(np.unique(recs_ok)) / max(n_items, 1))
    if item_popularity is not None and n_train_users:
        p = np.maximum(item_popularity[recs_ok], 1) / n_train_users
        out["novelty"] = float((-np.log2(p)).mean())
    return out
