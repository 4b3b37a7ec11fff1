"""Candidate sources of a list: the model's precomputed top items, the recent-feedback re-rank, products
new since training, segment popularity for cold starts and neighbours of a context's product."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from liveloop.recommend.explain import cached_reason
from liveloop.recommend.online import FEEDBACK_WEIGHTS, OnlineState
from liveloop.recommend.scores import Scores
from liveloop.recommend.state import ServingState, Snapshot

ONLINE_BOOST = 2.0  # weight of the recent-items signal against the (normalised) model score


class NeedsWarehouse(Exception):
    """Raised inside an in-memory ranking that would need a warehouse query."""


class Candidates:
    """Adds each source's scores and reasons to a ``Scores``; keeps a per-generation cache of profile
    segments (the one source that queries the warehouse)."""

    def __init__(self, state: ServingState, online: OnlineState, max_segments: int = 10_000):
        self.state = state
        self.online = online
        self.max_segments = max_segments
        self._segments: OrderedDict[str, str | None] = OrderedDict()
        self._segment_gen = -1

    def personal(self, snap: Snapshot, user_id: str, scores: Scores) -> bool:
        """Model candidates and the recent-feedback re-rank; True if there was any personal signal."""
        bundle, model = snap.bundle, snap.model
        if bundle is None or model is None:
            return False
        cat = snap.catalogue
        found = False
        u = bundle.user_index.get(user_id)
        if u is not None:
            items, vals = bundle.top_items[u], bundle.top_scores[u]
            ok = np.isfinite(vals)
            items, vals = items[ok], vals[ok].astype(np.float64)
            if len(vals):
                lo, hi = vals.min(), vals.max()
                norm = (vals - lo) / (hi - lo) if hi > lo else np.ones_like(vals)
                ci = model.item_to_cat[items]
                on = ci >= 0
                scores.add(ci[on], norm[on], cached_reason("similar_users"))
                found = True
                self.new_items(snap, items[on], norm[on], scores)
        state = self.online.user(user_id)
        recent = list(state.recent) if state is not None else []
        hist = [(bundle.item_index.get(i), FEEDBACK_WEIGHTS.get(t, 1.0)) for i, t, _ in recent]
        hist = [(i, w) for i, w in hist if i is not None and w > 0]
        if hist:
            h_idx = np.array([i for i, _ in hist])
            boost = bundle.knn.score_history(h_idx, np.array([w for _, w in hist], np.float32))
            n = min(200, len(boost))
            top = np.argpartition(-boost, n - 1)[:n] if n < len(boost) else np.arange(len(boost))
            top = top[boost[top] > 0]
            if len(top):
                ci = model.item_to_cat[top]
                on = ci >= 0
                peak = float(boost[top].max())
                last = str(bundle.items[h_idx[-1]])
                title = str(cat.titles[cat.index[last]]) if last in cat.index else last
                vals = ONLINE_BOOST * boost[top][on].astype(np.float64) / peak
                scores.add(ci[on], vals, cached_reason("because_viewed", title))
                self.new_items(snap, top[on], vals / ONLINE_BOOST, scores)
                found = True
        return found

    def new_items(self, snap: Snapshot, items: np.ndarray, vals: np.ndarray, scores: Scores) -> None:
        """Products new since training, through their content neighbours among the user's best candidates."""
        model = snap.model
        links = model.new_items if model is not None else None
        if model is None or links is None or len(items) == 0:
            return
        titles = snap.catalogue.titles
        for p in np.argsort(-vals, kind="stable")[:20].tolist():
            item = int(items[p])
            lo, hi = links.indptr[item], links.indptr[item + 1]
            if hi > lo:
                parent = str(titles[model.item_to_cat[item]])
                scores.add(
                    links.indices[lo:hi],
                    0.8 * vals[p] * links.data[lo:hi],
                    cached_reason("new_similar", parent),
                )

    def cold_start(self, snap: Snapshot, user_id: str, scores: Scores, offline: bool) -> str:
        """Segment-popular products when the user has a profile segment, else (implicitly) popularity."""
        segment = self.segment(snap, user_id, offline)
        seg = snap.segments.get(segment) if segment else None
        if seg is None:
            return "popularity"
        scores.add(seg.items, seg.scores, cached_reason("segment_popular", seg.name))
        return "segment"

    def segment(self, snap: Snapshot, user_id: str, offline: bool) -> str | None:
        """The user's profile segment, cached per snapshot generation (``offline``: never queried)."""
        if not snap.segments:
            return None
        if self._segment_gen != snap.gen:
            self._segments.clear()
            self._segment_gen = snap.gen
        if user_id not in self._segments:
            if offline:
                raise NeedsWarehouse
            self._segments[user_id] = self.state.segment_of(user_id)
            while len(self._segments) > self.max_segments:
                self._segments.popitem(last=False)
        return self._segments[user_id]

    def similar(self, snap: Snapshot, ref_idx: int, scores: Scores) -> None:
        """product:ID context: item-kNN neighbours, content neighbours (also for a product new since
        training), products new since training that resemble it, and association rules."""
        bundle, model, cat = snap.bundle, snap.model, snap.catalogue
        if bundle is None or model is None:
            return
        title = str(cat.titles[ref_idx])
        similar = cached_reason("similar_item", title)
        item = int(model.cat_to_item[ref_idx])
        n_sims = 0
        if item >= 0:
            sims, vals = bundle.knn.similar_items(item, 50)
            ci = model.item_to_cat[sims]
            on = ci >= 0
            scores.add(ci[on], 3.0 * vals[on], similar, personal=False)
            n_sims = int(on.sum())
            links = model.new_items
            if links is not None:
                lo, hi = links.indptr[item], links.indptr[item + 1]
                scores.add(links.indices[lo:hi], 3.0 * links.data[lo:hi], similar, personal=False)
        content = bundle.content
        if content is not None and n_sims < 10:
            if item >= 0:
                s = content.score_history(np.array([item]))
                top = np.argsort(-s, kind="stable")[:20]
            else:  # new product: its own text against the model's items
                text = " ".join(
                    str(x)
                    for x in (
                        cat.titles[ref_idx],
                        cat.categories[ref_idx],
                        cat.brands[ref_idx] if cat.brands is not None else "",
                    )
                )
                top, vals = content.similar_to_text(text, 20)
                s = np.zeros(len(bundle.items), np.float32)
                s[top] = vals
            top = top[s[top] > 0]
            ci = model.item_to_cat[top]
            on = ci >= 0
            scores.add(ci[on], s[top][on].astype(np.float64), similar, personal=False)
        rules = getattr(bundle, "bundles", None)
        if rules is not None:
            pid = str(cat.ids[ref_idx])
            together = cached_reason("bought_together", title)
            for rule in rules.for_item(pid, 20):
                for other in rule["items"]:
                    if other in cat.index:
                        scores.add(
                            np.array([cat.index[other]]),
                            np.array([2.0 + rule["confidence"]]),
                            together,
                            personal=False,
                        )

    def interest_scores(self, snap: Snapshot, user_id: str) -> dict[str, float]:
        """Personal scores by product id (model candidates and recent feedback); empty when opted out."""
        if user_id in snap.opted_out:
            return {}
        scores = Scores()
        self.personal(snap, user_id, scores)
        removed = snap.removed.get(user_id)
        cat = snap.catalogue
        idx, total, _ = scores.resolve((lambda ix: cat.removed_mask(ix, removed)) if removed else None)
        return {str(cat.ids[i]): float(s) for i, s in zip(idx.tolist(), total.tolist(), strict=True)}

    def forget(self, user_id: str) -> None:
        self._segments.pop(user_id, None)
