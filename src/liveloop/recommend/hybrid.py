"""The hybrid: LightGBM LambdaRank over the union of every retriever's candidates.

Features per (user, item): each retriever's score (scaled per user) and rank, item popularity, trend
and popularity at the user's own time, the user's activity, mainstreamness and share of the item's
category (profile), price fit, repeat signals (the user's past weight on the item and how recent it
is, where seen items may be recommended again) and live-now status (``live``: each item's share of the
label window on sale in a live room; scored with its share of the window after training by the room
schedule). Training holds out the latest
(or a random) slice of the training data as labels, fits the retrievers on the rest, learns the
ranker on their candidates, then refits the retrievers on everything.

Value-aware ranking (``value_weight``): the final score adds ``value_weight * log1p(margin)`` to the
ranker's, margin = price - cost of the item (price alone where the cost is unknown), so that between
items about as likely to engage, the one that earns more comes first: what ROI rewards. ``"auto"``
picks the weight on the ranker's own holdout (never the test data) as the one whose top-k captures the
most margin of the held-out purchases and add-to-carts, among the weights that keep at least
``VALUE_MIN_HITS`` of the held-out interactions the weight-0 lists find.
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
from liveloop.recommend.splits import stratified_split

NO_RANK = 1_000.0
DAY = 86_400.0
#: Time bins of the "popularity at the user's time" feature.
TIME_BINS = 32
#: The value weights ``value_weight="auto"`` chooses from, and the share of weight-0 hits it must keep.
VALUE_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
VALUE_MIN_HITS = 0.95
#: Event kinds that show purchase intent: purchases and add-to-carts (the warehouse's and Taobao's names).
VALUE_KINDS = ("purchase", "buy", "add_to_cart", "cart")


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


def item_margins(data: Interactions) -> np.ndarray:
    """Per item: price - cost, at least 0 (price alone without a cost; 0 without a price)."""
    price = np.nan_to_num(_prices(data), nan=0.0)
    meta = data.items_meta
    has_cost = meta is not None and "cost" in meta
    cost = meta["cost"].astype(float).to_numpy() if has_cost else np.zeros_like(price)  # type: ignore[index]
    return np.maximum(price - np.nan_to_num(cost, nan=0.0), 0.0)


def _intents(labels: Interactions) -> sp.csr_matrix:
    """Users x items, 1 where the labels hold a purchase or add-to-cart (by event kind; weight >= 3
    without kinds)."""
    kind = labels.kind
    mask = np.isin(kind.astype(str), VALUE_KINDS) if kind is not None else labels.weight >= 3
    return labels.subset(mask).binary()


def live_window_share(labels: Interactions) -> np.ndarray:
    """Per item: the share of the labels' time window during which it was on sale in a live room."""
    if not len(labels):
        return np.zeros(labels.n_items, np.float32)
    return labels.live_share(float(labels.ts.min()), float(labels.ts.max()) + 1.0)


def _row_normalise(m: sp.spmatrix) -> sp.csr_matrix:
    totals = np.asarray(m.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(totals, 1e-9)) @ m).tocsr()


class ItemStats:
    """Per-item, per-user and per-(user, item) statistics of one training window (non-retriever features)."""

    def __init__(self, data: Interactions):
        n_users, n_items = data.n_users, data.n_items
        # scale-free (shares, not counts): the ranker learns on 80% of the data and serves on all of it
        counts = data.item_counts()
        active = max(int((np.bincount(data.user_idx, minlength=n_users) > 0).sum()), 1)
        self.known = counts > 0
        self.popularity = np.log((counts + 0.5) / active).astype(np.float32)
        trend = decayed_counts(data, DAY, distinct_users=True)
        self.trend = np.log((trend + 1e-3) / max(float(trend.sum()), 1e-9)).astype(np.float32)
        self.now = int(data.ts.max()) if len(data) else 0
        last = np.full(n_items, np.nan)
        if len(data):
            np.fmax.at(last, data.item_idx, data.ts.astype(np.float64))
        self.item_idle_days = ((self.now - last) / DAY).astype(np.float32)
        self.categories = _category_codes(data)
        self.price = _prices(data)
        n_cat = int(self.categories.max()) + 1 if len(self.categories) else 1
        uc = sp.csr_matrix(
            (data.weight, (data.user_idx, self.categories[data.item_idx])), shape=(n_users, n_cat)
        )
        totals = np.asarray(uc.sum(axis=1)).ravel()
        self.user_activity = (
            np.log((totals + 1.0) / max(float(totals[totals > 0].mean()), 1.0))
            if len(data)
            else np.zeros(n_users)
        )
        self.user_activity = self.user_activity.astype(np.float32)
        self.user_category = _row_normalise(uc)
        # mainstreamness: the mean log-popularity of the user's items
        binary = data.binary()
        n_seen = np.maximum(np.diff(binary.indptr), 1)
        self.user_mainstream = (np.asarray(binary @ self.popularity).ravel() / n_seen).astype(np.float32)
        # popularity at the user's time: each item's share of the events in each time bin, weighted by
        # how the user's own events fall in those bins
        quantiles = np.linspace(0, 1, TIME_BINS + 1)[1:-1]
        edges = np.unique(np.quantile(data.ts, quantiles)) if len(data) else np.zeros(0)
        bins = np.searchsorted(edges, data.ts, side="right")
        n_bins = len(edges) + 1
        ub = sp.csr_matrix((np.ones(len(data)), (data.user_idx, bins)), shape=(n_users, n_bins))
        ib = sp.csr_matrix((np.ones(len(data)), (data.item_idx, bins)), shape=(n_items, n_bins)).toarray()
        self.user_bins = _row_normalise(ub).toarray().astype(np.float32)
        self.item_bin_share = (ib / np.maximum(ib.sum(axis=0, keepdims=True), 1.0)).astype(np.float32)
        logp = np.log(np.where(self.price > 0, self.price, np.nan))
        w = np.where(np.isnan(logp[data.item_idx]), 0.0, data.weight)
        num = np.bincount(data.user_idx, weights=w * np.nan_to_num(logp[data.item_idx]), minlength=n_users)
        den = np.bincount(data.user_idx, weights=w, minlength=n_users)
        self.user_logprice = np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)
        self.logprice = logp
        # repeat signals: the user's summed weight on the item and when they last touched it
        self.user_item = data.matrix
        order = np.lexsort((data.ts, data.item_idx, data.user_idx))
        u, i, t = data.user_idx[order], data.item_idx[order], data.ts[order]
        final = np.r_[(u[1:] != u[:-1]) | (i[1:] != i[:-1]), True] if len(u) else np.zeros(0, bool)
        self.last_touch = sp.csr_matrix(
            (t[final] - (data.ts.min() if len(data) else 0) + 1.0, (u[final], i[final])),
            shape=(n_users, n_items),
        )
        self.t0 = int(data.ts.min()) if len(data) else 0

    def pair_features(self, u: np.ndarray, items: np.ndarray) -> list[np.ndarray]:
        """Columns for (user, item) pairs, in the order of ``HybridRanker.stat_names``."""
        cat_share = np.asarray(self.user_category[u, self.categories[items]]).ravel()
        price_fit = -np.abs(self.logprice[items] - self.user_logprice[u])
        local_pop = (self.user_bins[u] * self.item_bin_share[items]).sum(axis=1)
        share = self.item_bin_share[items].mean(axis=1)
        past = np.asarray(self.user_item[u, items]).ravel()
        touched = np.asarray(self.last_touch[u, items]).ravel()
        since = np.where(touched > 0, (self.now - (touched - 1.0 + self.t0)) / DAY, np.nan)
        return [
            self.popularity[items],
            self.trend[items],
            self.item_idle_days[items],
            np.log(local_pop + 1e-7),
            np.log((local_pop + 1e-7) / (share + 1e-7)),
            self.user_activity[u],
            self.popularity[items] - self.user_mainstream[u],
            cat_share,
            price_fit,
            np.log1p(past),
            since,
        ]


class HybridRanker(Retriever):
    """Learning-to-rank over retriever candidates; beats each retriever by combining them.

    ``exclude_seen`` (default) ranks only items the user has not interacted with; set it to False
    where people come back to what they viewed (e-commerce browsing): seen items then compete as
    candidates too, with their repeat signals as features. ``stats`` names the non-retriever features
    to use (None: all; ``()``: retriever scores and ranks only). ``folds`` repeats the holdout (other
    seeds, or earlier time slices) for more ranker training data.
    """

    name = "hybrid"
    stat_names = (
        "item_pop",
        "item_trend",
        "item_idle_days",
        "pop_at_user_time",
        "pop_at_user_time_lift",
        "user_activity",
        "pop_vs_user_mainstream",
        "user_cat_share",
        "price_fit",
        "past_weight",
        "days_since_touch",
    )

    def __init__(
        self,
        retrievers: list[Retriever],
        candidates: int = 50,
        holdout: float = 0.2,
        split: str = "time",
        n_estimators: int = 1000,
        learning_rate: float = 0.02,
        num_leaves: int = 7,
        min_child_samples: int = 200,
        folds: int = 1,
        stats: tuple[str, ...] | None = None,
        exclude_seen: bool = True,
        refit: bool = True,
        value_weight: float | str = 0.0,
        live: bool = True,
        seed: int = 0,
    ):
        if not (
            value_weight == "auto" or (isinstance(value_weight, int | float) and 0 <= value_weight < np.inf)
        ):
            raise ValueError("value_weight is a finite number >= 0 or 'auto'")
        self.retrievers = retrievers
        self.candidates = candidates
        self.holdout = holdout
        self.split = split
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.folds = folds
        self.stats = stats
        self.exclude_seen = exclude_seen
        self.refit = refit
        self.value_weight = value_weight
        self.live = live
        self.seed = seed

    # -- features ------------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        names = []
        for r in self.retrievers:
            names += [f"{r.name}_score", f"{r.name}_rank"]
        return [*names, "mean_score", *self._stats_used(), "live_now"]

    def _stats_used(self) -> tuple[str, ...]:
        return self.stat_names if self.stats is None else tuple(n for n in self.stat_names if n in self.stats)

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
        known = stats.known
        scores, ranks = [], []
        mask = np.zeros((len(users), n_items), dtype=bool)
        if not self.exclude_seen:  # the user's own items are candidates too
            r, c = seen[users].nonzero()
            mask[r, c] = True
        for r in fitted:
            s = np.array(r.score(users), dtype=np.float32)
            s[:, ~known] = -np.inf
            if self.exclude_seen:
                mask_seen(s, seen, users)
            idx, _ = top_k(s, self.candidates)
            idx = np.where(np.isfinite(np.take_along_axis(s, idx, axis=1)), idx, -1)
            rank = np.full((len(users), n_items), NO_RANK, np.float32)
            rows_i, cols_i = np.nonzero(idx >= 0)
            rank[rows_i, idx[rows_i, cols_i]] = cols_i
            mask[rows_i, idx[rows_i, cols_i]] = True
            scores.append(s)
            ranks.append(rank)
        if self.exclude_seen:
            r, c = seen[users].nonzero()
            mask[r, c] = False
        rows, items = mask.nonzero()
        cols: list[np.ndarray] = []
        zs = []
        for s, rank in zip(scores, ranks, strict=True):
            # per-user z-score over the user's rankable items: stable when the retriever is refitted
            # on more data, unlike raw scores
            finite = np.isfinite(s)
            n = np.maximum(finite.sum(axis=1), 1)
            clean = np.where(finite, s, 0.0)
            mean = clean.sum(axis=1) / n
            std = np.sqrt(np.maximum((clean**2).sum(axis=1) / n - mean**2, 0.0)) + 1e-6
            z = np.nan_to_num((s[rows, items] - mean[rows]) / std[rows], neginf=-5.0, posinf=5.0)
            zs.append(z)
            cols += [z, rank[rows, items]]
        cols.append(np.mean(zs, axis=0) if zs else np.zeros(len(rows)))
        u = users[rows]
        used = set(self._stats_used())
        cols += [c for n, c in zip(self.stat_names, stats.pair_features(u, items), strict=True) if n in used]
        cols.append(np.zeros(len(items)) if live_now is None else live_now[items].astype(np.float32))
        return rows, items, np.column_stack(cols).astype(np.float32)

    # -- training ------------------------------------------------------------------------------
    def _holdout(self, data: Interactions, fold: int) -> tuple[Interactions, Interactions]:
        """Fold ``fold``: a random per-user holdout (its own seed), or the time slice ``fold`` steps back."""
        if self.split != "time":
            return stratified_split(data, 1.0 - self.holdout, seed=self.seed + fold)
        hi = np.quantile(data.ts, 1.0 - self.holdout * fold) if fold else np.inf
        lo = np.quantile(data.ts, 1.0 - self.holdout * (fold + 1))
        if not (data.ts < lo).any() or not ((data.ts >= lo) & (data.ts < hi)).any():
            raise InsufficientData("too few distinct timestamps for the hybrid's time holdout")
        return data.subset(data.ts < lo), data.subset((data.ts >= lo) & (data.ts < hi))

    def _training_set(
        self, base: Interactions, labels: Interactions
    ) -> tuple[list[Retriever], ItemStats, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Retrievers fitted on ``base``, and the candidates' features, labels, groups and users."""
        fitted = [copy.deepcopy(r).fit(base) for r in self.retrievers]
        stats = ItemStats(base)
        users = np.intersect1d(np.unique(labels.user_idx), np.unique(base.user_idx))
        truth = labels.matrix
        live = live_window_share(labels) if self.live else None
        xs, ys, groups, kept = [], [], [], []
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            rows, items, x = self._candidates(fitted, stats, base.matrix, batch, live)
            w = np.asarray(truth[batch[rows], items]).ravel()
            y = (w > 0).astype(int) + (w >= 3) + (w >= 5)
            counts = np.bincount(rows, minlength=len(batch))
            has_pos = np.bincount(rows, weights=y > 0, minlength=len(batch)) > 0
            keep = has_pos[rows]
            xs.append(x[keep])
            ys.append(y[keep])
            groups.append(counts[has_pos])
            kept.append(batch[has_pos])
        n_feat = len(self.feature_names)
        return (
            fitted,
            stats,
            np.concatenate(xs) if xs else np.zeros((0, n_feat), np.float32),
            np.concatenate(ys) if ys else np.zeros(0, int),
            np.concatenate(groups) if groups else np.zeros(0, int),
            np.concatenate(kept) if kept else np.zeros(0, int),
        )

    def fit(self, data: Interactions, prefitted: list[Retriever] | None = None) -> Self:
        """Learn the ranker on holdout folds; ``prefitted`` (the retrievers already fitted on ``data``,
        in order) saves the final refit."""
        import lightgbm as lgb

        parts = [self._training_set(*self._holdout(data, f)) for f in range(self.folds)]
        fitted, stats = parts[0][0], parts[0][1]
        x_all = np.concatenate([p[2] for p in parts])
        y_all = np.concatenate([p[3] for p in parts])
        g_all = np.concatenate([p[4] for p in parts])
        group_users = np.concatenate([p[5] for p in parts])
        if len(y_all) == 0 or y_all.max() == 0:
            raise InsufficientData("the hybrid ranker found no held-out positives among the candidates")
        # a fifth of the users (in every fold) picks the number of trees: early stopping on NDCG@10
        rng = np.random.default_rng(self.seed)
        eval_users = rng.random(data.n_users) < 0.2
        is_eval = eval_users[group_users] if len(g_all) >= 10 else np.zeros(len(g_all), bool)
        row_eval = np.repeat(is_eval, g_all)
        self.ranker_ = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            # small warehouses: leaves of 1% of the rows at most, so the ranker can still split
            min_child_samples=min(self.min_child_samples, max(5, int((~row_eval).sum()) // 100)),
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        fit_kw: dict[str, Any] = {}
        if is_eval.any():
            fit_kw = {
                "eval_X": (x_all[row_eval],),
                "eval_y": (y_all[row_eval],),
                "eval_group": [g_all[is_eval]],
                "eval_at": [10],
                "callbacks": [lgb.early_stopping(100, first_metric_only=True, verbose=False)],
            }
        self.ranker_.fit(x_all[~row_eval], y_all[~row_eval], group=g_all[~is_eval], **fit_kw)
        self.value_choice_: dict[str, Any] = {}
        if self.value_weight == "auto":
            base, labels = self._holdout(data, 0)
            fold0 = parts[0]
            self.value_choice_ = self._choose_value_weight(
                fold0[0], fold0[1], base, labels, fold0[5], live_window_share(labels) if self.live else None
            )
            self.value_weight_ = float(self.value_choice_["chosen"])
        else:
            self.value_weight_ = float(self.value_weight)
        if prefitted is not None:
            if len(prefitted) != len(self.retrievers):
                raise ValueError("prefitted needs one fitted retriever per retriever")
            self.fitted_, self.stats_ = list(prefitted), ItemStats(data)
        elif self.refit:
            self.fitted_ = [copy.deepcopy(r).fit(data) for r in self.retrievers]
            self.stats_ = ItemStats(data)
        else:
            self.fitted_, self.stats_ = fitted, stats
        self.seen_ = data.matrix
        self.n_items_ = data.n_items
        self.live_learned_ = bool(any(p[2][:, -1].any() for p in parts))  # the feature varied in training
        self.live_next_: np.ndarray | None = None
        if self.live_learned_:  # scored by default with the share of the next window by the room schedule
            _, labels0 = self._holdout(data, 0)
            now = float(data.ts.max())
            self.live_next_ = data.live_share(now, now + float(labels0.ts.max() - labels0.ts.min() + 1))
        self.value_ = np.log1p(item_margins(data)).astype(np.float32)
        return self

    def _choose_value_weight(
        self,
        fitted: list[Retriever],
        stats: ItemStats,
        base: Interactions,
        labels: Interactions,
        users: np.ndarray,
        live_now: np.ndarray | None = None,
        k: int = 10,
    ) -> dict[str, Any]:
        """The weight of ``VALUE_WEIGHTS`` whose top-``k`` on the holdout's ``users`` captures the most
        margin of held-out purchases and carts, keeping ``VALUE_MIN_HITS`` of the weight-0 hits; 0 when
        the holdout holds none."""
        margin = item_margins(base)
        value = np.log1p(margin).astype(np.float32)
        truth, bought = labels.binary(), _intents(labels)
        hits, captured = dict.fromkeys(VALUE_WEIGHTS, 0.0), dict.fromkeys(VALUE_WEIGHTS, 0.0)
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            # the candidates and the ranker's scores once per batch; each weight only shifts them
            ranked = self._predicted(fitted, stats, base.matrix, batch, live_now)
            for w in VALUE_WEIGHTS:
                s = self._shifted(ranked, len(batch), base.matrix.shape[1], value, w)
                idx, _ = top_k(s, k)
                rows = np.repeat(np.arange(len(batch)), idx.shape[1])
                ok = np.isfinite(s[rows, idx.ravel()])
                u, i = batch[rows[ok]], idx.ravel()[ok]
                hits[w] += float(np.asarray(truth[u, i]).sum())
                captured[w] += float((np.asarray(bought[u, i]).ravel() * margin[i]).sum())
        tried = {str(w): {"hits": hits[w], "intent_margin": round(captured[w], 2)} for w in VALUE_WEIGHTS}
        floor = VALUE_MIN_HITS * tried["0.0"]["hits"]
        allowed = [w for w in VALUE_WEIGHTS if tried[str(w)]["hits"] >= floor]
        best = max(allowed, key=lambda w: (tried[str(w)]["intent_margin"], -w))
        if tried[str(best)]["intent_margin"] <= 0:
            best = 0.0
        return {"chosen": best, "validation_users": len(users), "tried": tried}

    def _predicted(
        self,
        fitted: list[Retriever],
        stats: ItemStats,
        seen: sp.csr_matrix,
        users: np.ndarray,
        live_now: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs (row in ``users``, item) and the ranker's score of each."""
        rows, items, x = self._candidates(fitted, stats, seen, users, live_now)
        pred = np.asarray(self.ranker_.predict(x, num_threads=1)) if len(rows) else np.zeros(0)
        return rows, items, pred

    @staticmethod
    def _shifted(
        ranked: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_users: int,
        n_items: int,
        value: np.ndarray,
        weight: float,
    ) -> np.ndarray:
        """The ranked candidates as a (users, items) score matrix, + ``weight`` x log margin; -inf
        elsewhere."""
        rows, items, pred = ranked
        out = np.full((n_users, n_items), -np.inf, np.float32)
        if len(rows):
            out[rows, items] = pred + weight * value[items]
        return out

    def score(self, users: np.ndarray, live_now: np.ndarray | None = None) -> np.ndarray:
        """Ranker scores (value-aware when ``value_weight``) on candidates; -inf elsewhere (not retrieved,
        already seen or unknown). ``live_now`` defaults to each item's share of the window after training
        on sale in a live room, by the schedule known at training."""
        users = np.asarray(users, dtype=np.int64)
        if live_now is None:
            live_now = getattr(self, "live_next_", None)
        value = getattr(self, "value_", np.zeros(self.n_items_, np.float32))  # models saved before it
        weight = getattr(self, "value_weight_", 0.0)
        ranked = self._predicted(self.fitted_, self.stats_, self.seen_, users, live_now)
        return self._shifted(ranked, len(users), self.seen_.shape[1], value, weight)

    def live_now_effect(self, users: np.ndarray) -> np.ndarray | None:
        """Per user of ``users``: the mean ranker-score change of their candidates when the item is live
        (``live_now`` 1 against 0), over the user's score range; None where the feature never varied in
        training (no live rooms in the data: nothing was learned)."""
        if not getattr(self, "live_learned_", False):
            return None
        users = np.asarray(users, dtype=np.int64)
        rows, _, x = self._candidates(self.fitted_, self.stats_, self.seen_, users)
        if not len(rows):
            return None
        base = np.asarray(self.ranker_.predict(x, num_threads=1), np.float64)
        x[:, -1] = 1.0
        delta = np.asarray(self.ranker_.predict(x, num_threads=1), np.float64) - base
        n = np.bincount(rows, minlength=len(users))
        lo = np.full(len(users), np.inf)
        hi = np.full(len(users), -np.inf)
        np.minimum.at(lo, rows, base)
        np.maximum.at(hi, rows, base)
        mean = np.bincount(rows, weights=delta, minlength=len(users)) / np.maximum(n, 1)
        spread = np.where(hi > lo, hi - lo, 1.0)
        return np.where(n > 0, mean / spread, 0.0)

    def feature_importance(self) -> dict[str, float]:
        gains = self.ranker_.booster_.feature_importance("gain")
        total = float(gains.sum()) or 1.0
        return {n: round(float(g) / total, 4) for n, g in zip(self.feature_names, gains, strict=True)}

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["retrievers"] = [r.name for r in self.retrievers]
        return params
