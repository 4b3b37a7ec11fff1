"""The hybrid: LightGBM LambdaRank over the union of every retriever's candidates.

Features per (user, item): each retriever's score and rank, item popularity and trend, the
user's activity and share of the item's category (profile), price fit, and live-now status.
Training holds out the latest (or a random) slice of the training data as labels, fits the
retrievers on the rest, learns the ranker, then refits the retrievers on everything.
"""

from __future__ import annotations

import copy
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from liveloop.core.errors import InsufficientData
from liveloop.recommend.base import Retriever, mask_seen, top_k
from liveloop.recommend.interactions import Interactions
from liveloop.recommend.popularity import decayed_counts
from liveloop.recommend.splits import stratified_split, time_split

NO_RANK = 1_000.0


def _category_codes(data: Interactions) -> np.ndarray:
    meta = data.items_meta
    if meta is None or "category" not in meta:
        return np.zeros(data.n_items, np.int64)
    _, codes = np.unique(meta["category"].fillna("").astype(str).to_numpy(), return_inverse=True)
    return codes.astype(np.int64)


def _prices(data: Interactions) -> np.ndarray:
    meta = data.items_meta
    if meta is None or "price" not in meta:
        return np.full(data.n_items, np.nan)
    return meta["price"].astype(float).to_numpy()


class ItemStats:
    """Per-item and per-user statistics of one training window (the non-retriever features)."""

    def __init__(self, data: Interactions):
        self.popularity = np.log1p(data.item_counts()).astype(np.float32)
        self.trend = np.log1p(decayed_counts(data, 86_400.0)).astype(np.float32)
        self.categories = _category_codes(data)
        self.price = _prices(data)
        n_cat = int(self.categories.max()) + 1 if len(self.categories) else 1
        uc = sp.csr_matrix(
            (data.weight, (data.user_idx, self.categories[data.item_idx])), shape=(data.n_users, n_cat)
        )
        totals = np.asarray(uc.sum(axis=1)).ravel()
        self.user_activity = np.log1p(totals).astype(np.float32)
        self.user_category = sp.diags(1.0 / np.maximum(totals, 1e-9)) @ uc
        self.user_category = self.user_category.tocsr()
        logp = np.log(np.where(self.price > 0, self.price, np.nan))
        w = np.where(np.isnan(logp[data.item_idx]), 0.0, data.weight)
        num = np.bincount(
            data.user_idx, weights=w * np.nan_to_num(logp[data.item_idx]), minlength=data.n_users
        )
        den = np.bincount(data.user_idx, weights=w, minlength=data.n_users)
        self.user_logprice = np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)
        self.logprice = logp


class HybridRanker(Retriever):
    """Learning-to-rank over retriever candidates; beats each retriever by combining them."""

    name = "hybrid"

    def __init__(
        self,
        retrievers: list[Retriever],
        candidates: int = 50,
        holdout: float = 0.2,
        split: str = "time",
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        refit: bool = True,
        seed: int = 0,
    ):
        self.retrievers = retrievers
        self.candidates = candidates
        self.holdout = holdout
        self.split = split
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.refit = refit
        self.seed = seed

    # -- features ------------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        names = []
        for r in self.retrievers:
            names += [f"{r.name}_score", f"{r.name}_rank"]
        return [*names, "item_pop", "item_trend", "user_activity", "user_cat_share", "price_fit", "live_now"]

    def _candidates(
        self,
        fitted: list[Retriever],
        stats: ItemStats,
        seen: sp.csr_matrix,
        users: np.ndarray,
        live_now: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs (row in ``users``, item) and their feature matrix."""
        n_items = seen.shape[1]
        known = stats.popularity > 0
        scores, ranks = [], []
        mask = np.zeros((len(users), n_items), dtype=bool)
        for r in fitted:
            s = np.array(r.score(users), dtype=np.float32)
            s[:, ~known] = -np.inf
            mask_seen(s, seen, users)
            idx, _ = top_k(s, self.candidates)
            rank = np.full((len(users), n_items), NO_RANK, np.float32)
            np.put_along_axis(rank, idx, np.arange(idx.shape[1], dtype=np.float32)[None, :], axis=1)
            np.put_along_axis(mask, idx, True, axis=1)
            scores.append(s)
            ranks.append(rank)
        rows, items = mask.nonzero()
        for s in scores:  # per-user scale: each score over the user's best candidate score
            vals = np.nan_to_num(s[rows, items], neginf=np.nan)
            top = (
                np.fmax.reduceat(vals, np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]))
                if len(rows)
                else vals
            )
            top_of_row = np.zeros(len(users))
            top_of_row[np.unique(rows)] = top
            denom = np.abs(top_of_row[rows]) + 1e-6
            s[rows, items] = np.nan_to_num(vals / denom, nan=-1.0)
        u = users[rows]
        cat_share = np.asarray(stats.user_category[u, stats.categories[items]]).ravel()
        price_fit = -np.abs(stats.logprice[items] - stats.user_logprice[u])
        live = np.zeros(len(items), np.float32) if live_now is None else live_now[items].astype(np.float32)
        cols = [c for s, r in zip(scores, ranks, strict=True) for c in (s[rows, items], r[rows, items])]
        cols += [
            stats.popularity[items],
            stats.trend[items],
            stats.user_activity[u],
            cat_share,
            price_fit,
            live,
        ]
        return rows, items, np.column_stack(cols).astype(np.float32)

    # -- training ------------------------------------------------------------------------------
    def fit(self, data: Interactions) -> Self:
        import lightgbm as lgb

        if self.split == "time":
            base, labels = time_split(data, self.holdout)
        else:
            base, labels = stratified_split(data, 1.0 - self.holdout, seed=self.seed)
        fitted = [copy.deepcopy(r).fit(base) for r in self.retrievers]
        stats = ItemStats(base)
        users = np.intersect1d(np.unique(labels.user_idx), np.unique(base.user_idx))
        truth = labels.matrix
        xs, ys, groups = [], [], []
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            rows, items, x = self._candidates(fitted, stats, base.matrix, batch)
            w = np.asarray(truth[batch[rows], items]).ravel()
            y = (w > 0).astype(int) + (w >= 3) + (w >= 5)
            counts = np.bincount(rows, minlength=len(batch))
            has_pos = np.bincount(rows, weights=y > 0, minlength=len(batch)) > 0
            keep = has_pos[rows]
            xs.append(x[keep])
            ys.append(y[keep])
            groups.append(counts[has_pos])
        y_all = np.concatenate(ys)
        if len(y_all) == 0 or y_all.max() == 0:
            raise InsufficientData("the hybrid ranker found no held-out positives among the candidates")
        self.ranker_ = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        self.ranker_.fit(np.concatenate(xs), y_all, group=np.concatenate(groups))
        if self.refit:
            self.fitted_ = [copy.deepcopy(r).fit(data) for r in self.retrievers]
            self.stats_ = ItemStats(data)
        else:
            self.fitted_, self.stats_ = fitted, stats
        self.seen_ = data.matrix
        self.n_items_ = data.n_items
        return self

    def score(self, users: np.ndarray, live_now: np.ndarray | None = None) -> np.ndarray:
        """Ranker scores on candidates; -inf elsewhere (not retrieved, already seen or unknown)."""
        users = np.asarray(users, dtype=np.int64)
        out = np.full((len(users), self.n_items_), -np.inf, np.float32)
        rows, items, x = self._candidates(self.fitted_, self.stats_, self.seen_, users, live_now)
        if len(rows):
            out[rows, items] = self.ranker_.predict(x, num_threads=1)
        return out

    def feature_importance(self) -> dict[str, float]:
        gains = self.ranker_.booster_.feature_importance("gain")
        total = float(gains.sum()) or 1.0
        return {n: round(float(g) / total, 4) for n, g in zip(self.feature_names, gains, strict=True)}

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["retrievers"] = [r.name for r in self.retrievers]
        return params
