"""Serving: one user's list for a context, with rules, online re-ranking, exploration, reasons and audit.

The hot path is a bounded per-user response cache: an entry (one user, context and k) holds the list as
pre-serialised JSON fragments, stamped with the snapshot generation (model, catalogue, live rooms,
segments), the user's online-state version, opt-out, removed tags and purchases. A hit re-draws only the
exploration slot and joins the fragments; a miss ranks from precomputed per-user candidate arrays.
Snapshots come from ``ServingState`` (refreshed in the background by ``upkeep`` in the server, inline
elsewhere).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.recommend.explain import cached_reason
from liveloop.recommend.interactions import EVENT_WEIGHTS
from liveloop.recommend.online import FEEDBACK_WEIGHTS, OnlineState
from liveloop.recommend.rules import category_cap, repurchase_blocked
from liveloop.recommend.state import ServingState, Snapshot

MAX_K = 100
FEEDBACK_TYPES = tuple(FEEDBACK_WEIGHTS)
ONLINE_BOOST = 2.0  # weight of the recent-items signal against the (normalised) model score
LIVE_BOOST = 0.3  # home lists: a candidate on sale in a room live now (unless the model learned one)
POPULAR_TIE = 0.01  # popularity's weight when it only fills and breaks ties
STALE_S = 3.0  # a cache hit needs a snapshot checked this recently (else: the refreshing path)
EXPLORE_DRAWS = 32  # random candidates for the Thompson draw

# Reason priorities: the most specific source that named an item explains it.
_PRIORITY = {
    "bought_together": 7, "similar_item": 6, "because_viewed": 5, "new_similar": 4, "in_live_now": 3,
    "similar_users": 2, "segment_popular": 2,
}  # fmt: skip


def parse_context(context: str) -> tuple[str, str | None]:
    """``home`` | ``live:SESSION`` | ``product:ID``."""
    if context == "home":
        return "home", None
    kind, _, ref = context.partition(":")
    if kind in ("live", "product") and ref:
        return kind, ref
    raise ValidationFailed("context must be home, live:SESSION_ID or product:PRODUCT_ID", field="context")


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValidationFailed(f"{name} must be on or off, got {value!r}", field=name)


@dataclass(slots=True)
class _Entry:
    """One cached list: everything a hit needs except the exploration draw."""

    stamp: tuple[Any, ...]
    mode: str
    version: str | None
    extra: bytes  # trailing top-level JSON members (reason, fallback)
    pids: list[str]
    idx: np.ndarray  # catalogue indices of ``pids`` (a hit re-checks their stock)
    frags: list[bytes]  # one JSON object per item, rank included
    codes: list[str]
    explore: bool  # the last slot may be an exploration draw
    pool: np.ndarray | None  # where the draw comes from (a room's lineup); None: the whole catalogue
    excluded: frozenset[int]  # catalogue indices never drawn (listed, blocked, the context's product)
    removed: frozenset[str]  # the user's removed interest tags
    expires: float = float("inf")  # epoch seconds: a live room's end (its list then becomes "ended")


class _NeedsWarehouse(Exception):
    """Raised inside an in-memory ranking that would need a warehouse query."""


class ResponseCache:
    """Bounded LRU of ``_Entry`` by (user, context, k), with hit/miss/eviction counters."""

    def __init__(self, max_entries: int = 20_000):
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: tuple[str, str, int], stamp: tuple[Any, ...]) -> _Entry | None:
        entry = self._data.get(key)
        if (
            entry is None
            or entry.stamp != stamp
            or (entry.expires < float("inf") and time.time() >= entry.expires)
        ):
            return None
        return entry

    def put(self, key: tuple[str, str, int], entry: _Entry) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
                self.evictions += 1

    def drop_user(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == user_id]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class _Scores:
    """Scores from several sources over catalogue indices: summed per product; the reason is the one of
    the highest-priority source that named it. Personal sources are dropped for removed interest tags."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, int, bool]] = []
        self.reasons: list[dict[str, Any]] = []

    def add(
        self, idx: np.ndarray, val: np.ndarray, why: dict[str, Any] | None = None, *, personal: bool = True
    ) -> None:
        if len(idx) == 0:
            return
        rid = -1
        if why is not None:
            rid = len(self.reasons)
            self.reasons.append(why)
        self.parts.append((np.asarray(idx, np.int64), np.asarray(val, np.float64), rid, personal))

    def resolve(
        self, dropped: Callable[[np.ndarray], np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unique catalogue indices, total scores, reason id or -1); ``dropped(idx)``: removed-tag mask."""
        if not self.parts:
            return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
        sizes = [len(p[0]) for p in self.parts]
        idx = np.concatenate([p[0] for p in self.parts])
        val = np.concatenate([p[1] for p in self.parts])
        rid = np.repeat(np.array([p[2] for p in self.parts], np.int64), sizes)
        personal = np.repeat(np.array([p[3] for p in self.parts], bool), sizes)
        pri = np.array([_PRIORITY.get(r["code"], 1) for r in self.reasons] + [0])[rid]
        if dropped is not None:
            keep = ~(personal & dropped(idx))
            idx, val, rid, pri = idx[keep], val[keep], rid[keep], pri[keep]
        uniq, inv = np.unique(idx, return_inverse=True)
        total = np.bincount(inv, weights=val, minlength=len(uniq))
        best = np.full(len(uniq), -1, np.int64)
        named = rid >= 0
        if named.any():
            order = np.lexsort((np.flatnonzero(named), pri[named], inv[named]))
            g, r = inv[named][order], rid[named][order]
            last = np.append(g[1:] != g[:-1], True)
            best[g[last]] = r[last]
        return uniq, total, best


class RecommendService:
    """Holds the serving snapshots, the online state, the response cache and the audit buffer."""

    def __init__(
        self,
        wh: Any,
        settings: Settings | None = None,
        *,
        explore: bool | None = None,
        seed: int = 0,
        audit_batch: int = 1_000,
        cache_entries: int | None = None,
        intervals: dict[str, float] | None = None,
    ):
        self.wh = wh
        self.settings = settings or get_settings()
        self.explore = _env_flag("LIVELOOP_RECOMMEND_EXPLORE", True) if explore is None else explore
        self.state = ServingState(wh, intervals)
        self.online = OnlineState()
        self.cache = ResponseCache(cache_entries or int(os.environ.get("LIVELOOP_RECOMMEND_CACHE", "20000")))
        self.rng = np.random.default_rng(seed)
        self._rand: tuple[np.ndarray, int] = (np.empty(0, np.int64), 0)
        self._rand_n = 0
        self._rand_lock = threading.Lock()
        self.audit_batch = audit_batch
        self.audit_max = 200_000
        self._audit: deque[tuple[Any, ...]] = deque()
        self._audit_lock = threading.Lock()
        self._segment_cache: OrderedDict[str, str | None] = OrderedDict()
        self._segment_gen = -1
        self._dirty: OrderedDict[str, None] = OrderedDict()  # users whose events changed (refits)
        self.max_dirty = 10_000
        self._refit_lock = threading.Lock()
        self.counters = {"refit_users": 0, "refit_passes": 0, "dirty_dropped": 0, "audit_written": 0}
        self.upkeep: Any = None  # liveloop.recommend.upkeep.Upkeep while the background worker runs

    # -- state ---------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self.state.current()

    def bundle(self) -> Any:
        """The active model bundle (None before the first training)."""
        return self.snapshot().bundle

    def refresh(self) -> None:
        """Re-read model, catalogue and the rest on the next request (after training, imports, rollback)."""
        self.state.invalidate()

    def _opted_out(self, user_id: str, snap: Snapshot) -> bool:
        return user_id in snap.opted_out

    # -- the public operations -----------------------------------------------------------------
    def recommend(
        self,
        user_id: str,
        k: int = 10,
        context: str = "home",
        *,
        explore: bool | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """A list of ``k`` products with a reason each; cold start and non-personalised modes built in."""
        result: dict[str, Any] = orjson.loads(
            self.recommend_json(user_id, k, context, explore=explore, actor=actor)
        )
        return result

    def recommend_json(
        self,
        user_id: str,
        k: int = 10,
        context: str = "home",
        *,
        explore: bool | None = None,
        actor: str | None = None,
    ) -> bytes:
        """``recommend`` as the JSON document the API sends (refreshing snapshots when due)."""
        if not 1 <= k <= MAX_K:
            raise ValidationFailed(f"k must be between 1 and {MAX_K}", field="k")
        kind, ref = parse_context(context)
        snap = self.snapshot()
        key, stamp = self._key(snap, user_id, context, k)
        entry = self.cache.get(key, stamp)
        if entry is not None and not snap.in_stock[entry.idx].all():
            entry = None  # an item sold out since: rank again
        if entry is None:
            self.cache.misses += 1
            entry = self._build(snap, user_id, k, kind, ref, stamp)
            self.cache.put(key, entry)
        else:
            self.cache.hits += 1
        return self._respond(snap, entry, user_id, context, k, explore, actor)

    def cached_json(
        self,
        user_id: str,
        k: int,
        context: str,
        *,
        explore: bool | None = None,
        actor: str | None = None,
        rank: bool = False,
    ) -> bytes | None:
        """The response without warehouse access, or None: from the cache, or (``rank``) ranked from
        the in-memory snapshot when nothing needs a query (a fresh snapshot, no unknown room, no
        profile-segment lookup). The server calls this on its event loop."""
        snap = self.state.snap
        if snap is None or not 1 <= k <= MAX_K or time.monotonic() - self.state.checked_at > STALE_S:
            return None
        key, stamp = self._key(snap, user_id, context, k)
        entry = self.cache.get(key, stamp)
        if entry is None or not snap.in_stock[entry.idx].all():
            if not rank:
                return None
            kind, ref = parse_context(context)
            try:
                entry = self._build(snap, user_id, k, kind, ref, stamp, offline=True)
            except _NeedsWarehouse:
                return None
            self.cache.misses += 1
            self.cache.put(key, entry)
        else:
            self.cache.hits += 1
        return self._respond(snap, entry, user_id, context, k, explore, actor)

    def _key(
        self, snap: Snapshot, user_id: str, context: str, k: int
    ) -> tuple[tuple[str, str, int], tuple[Any, ...]]:
        if user_id in snap.opted_out:  # one shared list: no personal data in key or stamp
            return ("", context, k), (snap.gen, "non_personalised")
        stamp = (
            snap.gen,
            self.online.user_version(user_id),
            snap.removed.get(user_id),
            snap.purchases.get(user_id),
        )
        return (user_id, context, k), stamp

    def _respond(
        self,
        snap: Snapshot,
        entry: _Entry,
        user_id: str,
        context: str,
        k: int,
        explore: bool | None,
        actor: str | None,
    ) -> bytes:
        frags, pids, codes = entry.frags, entry.pids, entry.codes
        use_explore = self.explore if explore is None else explore
        if use_explore and entry.explore:
            pick = self._explore_pick(snap, entry)
            if pick is not None:
                frag, pid = pick
                frags, pids, codes = [*frags[:-1], frag], [*pids[:-1], pid], [*codes[:-1], "explore"]
        head = orjson.dumps({"user_id": user_id, "context": context, "k": k})
        body = b"".join(
            (
                head[:-1],
                b',"items":[',
                b",".join(frags),
                b'],"mode":',
                orjson.dumps(entry.mode),
                b',"model_version":',
                orjson.dumps(entry.version),
                b',"known_user":',
                b"true" if snap.bundle is not None and user_id in snap.bundle.user_index else b"false",
                entry.extra,
                b"}",
            )
        )
        self._audit_list(user_id, context, pids, codes, entry.mode, entry.version, actor)
        return body

    def _explore_pick(self, snap: Snapshot, entry: _Entry) -> tuple[bytes, str] | None:
        """Thompson sampling on item CTR over a random draw of eligible products (O(1) in the catalogue)."""
        cat = snap.catalogue
        if entry.pool is None:
            draws = self._random_indices(len(cat))
            draws = draws[snap.in_stock[draws]]
        elif len(entry.pool) > EXPLORE_DRAWS:
            draws = self.rng.choice(entry.pool, EXPLORE_DRAWS, replace=False)
        else:
            draws = entry.pool
        if entry.pool is not None:
            draws = draws[snap.in_stock[draws]]
        if entry.removed and len(draws):
            draws = draws[~cat.removed_mask(draws, entry.removed)]
        excluded, ids = entry.excluded, cat.id_list
        pool = [ids[i] for i in dict.fromkeys(draws.tolist()) if i not in excluded]
        if not pool:
            return None
        pid = self.online.thompson(pool, self.rng)
        i = cat.index[pid]
        return _item_json(
            len(entry.frags), pid, cat.titles[i], cat.categories[i], 0.0, cached_reason("explore")
        ), pid

    def _random_indices(self, n: int) -> np.ndarray:
        """``EXPLORE_DRAWS`` uniform catalogue indices, cut from a buffer drawn in bulk."""
        with self._rand_lock:
            buf, pos = self._rand
            if len(buf) == 0 or pos + EXPLORE_DRAWS > len(buf) or self._rand_n != n:
                buf, pos, self._rand_n = self.rng.integers(0, n, 256 * EXPLORE_DRAWS), 0, n
            self._rand = (buf, pos + EXPLORE_DRAWS)
            return buf[pos : pos + EXPLORE_DRAWS]

    # -- ranking (cache misses) ----------------------------------------------------------------
    def _build(
        self,
        snap: Snapshot,
        user_id: str,
        k: int,
        kind: str,
        ref: str | None,
        stamp: tuple[Any, ...],
        *,
        offline: bool = False,
    ) -> _Entry:
        cat = snap.catalogue
        version = snap.version
        personal = user_id not in snap.opted_out

        def empty(mode: str, why: str) -> _Entry:
            extra = b',"reason":' + orjson.dumps(why)
            return _Entry(stamp, mode, version, extra, [], np.empty(0, np.int64), [], [], explore=False,
                          pool=None, excluded=frozenset(), removed=frozenset())  # fmt: skip

        if len(cat) == 0:
            return empty("empty", "the catalogue is empty: no products to recommend")
        allowed = snap.in_stock
        ref_idx = -1
        lineup_reason = None
        expires = float("inf")
        if kind == "product":
            assert ref is not None
            if ref not in cat.index:
                raise NotFound(f"unknown product {ref!r}", field="context")
            ref_idx = cat.index[ref]
        elif kind == "live":
            assert ref is not None
            session = snap.sessions.get(ref)
            if session is None and offline:
                raise _NeedsWarehouse  # maybe created since the last snapshot: ask the warehouse
            session = session or self.state.session_from_db(ref, cat)
            if session is None:
                raise NotFound(f"unknown live session {ref!r}", field="context")
            if session.ended(datetime.now(UTC)):
                return empty("ended", f"live session {ref} has ended")
            expires = session.end.timestamp() if session.end is not None else expires
            mask = np.zeros(len(cat), bool)
            mask[session.lineup] = True
            allowed = allowed & mask
            lineup_reason = cached_reason("in_this_live")
        removed = snap.removed.get(user_id, frozenset()) if personal else frozenset()
        scores = _Scores()
        fallback = None
        if not personal:
            scores.add(snap.popular_idx, snap.popular_score, personal=False)
            mode = "non_personalised"
        else:
            signals = self._personal(snap, user_id, scores)
            if not signals:
                fallback = self._cold_start(snap, user_id, scores, offline)
            mode = "personalised" if signals else "cold_start"
            scores.add(snap.popular_idx, POPULAR_TIE * snap.popular_score, personal=False)
        if kind == "product":
            self._add_similar(snap, ref_idx, scores)
        idx, total, rid = scores.resolve((lambda ix: cat.removed_mask(ix, removed)) if removed else None)
        if personal and idx.size:
            total = self._demote_impressions(snap, user_id, idx, total)
        if kind == "home" and snap.live_items and idx.size:
            rid = self._live_boost(snap, idx, total, rid, scores)
        blocked = repurchase_blocked(self._purchased(snap, user_id), cat, time.time()) if personal else set()
        blocked_idx = {cat.index[p] for p in blocked if p in cat.index}
        keep = allowed[idx] & (idx != ref_idx)
        if blocked_idx:
            keep &= ~np.isin(idx, list(blocked_idx))
        idx, total, rid = idx[keep], total[keep], rid[keep]
        order = np.lexsort((idx, -total))
        idx, total, rid = idx[order], total[order], rid[order]
        if kind == "live" and len(idx) < k:  # every lineup item is eligible in its room
            rest = np.setdiff1d(np.flatnonzero(allowed), np.append(idx, ref_idx))
            rest = rest[~np.isin(rest, list(blocked_idx))] if blocked_idx else rest
            idx = np.concatenate([idx, rest])
            total = np.concatenate([total, np.full(len(rest), -1.0)])
            rid = np.concatenate([rid, np.full(len(rest), -1)])
        pos = category_cap(list(range(len(idx))), cat.categories[idx], k)
        if not personal:
            default = cached_reason("non_personalised")
        else:
            default = cached_reason("cold_start" if fallback == "popularity" else "popular")
        pids, frags, codes = [], [], []
        for rank, p in enumerate(pos, 1):
            i = int(idx[p])
            why = scores.reasons[rid[p]] if rid[p] >= 0 else default
            if lineup_reason is not None:
                why = lineup_reason
            pid = str(cat.ids[i])
            pids.append(pid)
            frags.append(_item_json(rank, pid, cat.titles[i], cat.categories[i], float(total[p]), why))
            codes.append(why["code"])
        chosen = {int(idx[p]) for p in pos}
        extra = b',"fallback":' + orjson.dumps(fallback) if fallback else b""
        return _Entry(
            stamp,
            mode,
            version,
            extra,
            pids,
            np.array([idx[p] for p in pos], np.int64),
            frags,
            codes,
            explore=personal and len(pids) >= 3,
            pool=np.flatnonzero(allowed) if kind == "live" else None,
            excluded=frozenset(chosen | blocked_idx | ({ref_idx} if ref_idx >= 0 else set())),
            removed=removed,
            expires=expires,
        )

    def _personal(self, snap: Snapshot, user_id: str, scores: _Scores) -> bool:
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
                self._add_new_items(snap, items[on], norm[on], scores)
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
                self._add_new_items(snap, top[on], vals / ONLINE_BOOST, scores)
                found = True
        return found

    def _add_new_items(self, snap: Snapshot, items: np.ndarray, vals: np.ndarray, scores: _Scores) -> None:
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

    def _cold_start(self, snap: Snapshot, user_id: str, scores: _Scores, offline: bool) -> str:
        """Segment-popular products when the user has a profile segment, else (implicitly) popularity."""
        segment = self._segment(snap, user_id, offline)
        seg = snap.segments.get(segment) if segment else None
        if seg is None:
            return "popularity"
        scores.add(seg.items, seg.scores, cached_reason("segment_popular", seg.name))
        return "segment"

    def _segment(self, snap: Snapshot, user_id: str, offline: bool) -> str | None:
        if not snap.segments:
            return None
        if self._segment_gen != snap.gen:
            self._segment_cache.clear()
            self._segment_gen = snap.gen
        if user_id not in self._segment_cache:
            if offline:
                raise _NeedsWarehouse
            self._segment_cache[user_id] = self.state.segment_of(user_id)
            while len(self._segment_cache) > 10_000:
                self._segment_cache.popitem(last=False)
        return self._segment_cache[user_id]

    def _add_similar(self, snap: Snapshot, ref_idx: int, scores: _Scores) -> None:
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

    def _demote_impressions(
        self, snap: Snapshot, user_id: str, idx: np.ndarray, total: np.ndarray
    ) -> np.ndarray:
        """Shown but not engaged: gently demote."""
        state = self.online.user(user_id)
        if state is None or not state.impressions:
            return total
        cat = snap.catalogue
        shown = [(cat.index[p], n) for p, n in dict(state.impressions).items() if p in cat.index]
        if not shown:
            return total
        where = np.searchsorted(idx, [i for i, _ in shown])
        total = total.copy()
        for (i, n), w in zip(shown, where.tolist(), strict=True):
            if w < len(idx) and idx[w] == i:
                total[w] -= 0.05 * min(n, 5)
        return total

    def _live_boost(
        self, snap: Snapshot, idx: np.ndarray, total: np.ndarray, rid: np.ndarray, scores: _Scores
    ) -> np.ndarray:
        """Home lists: candidates on sale in a room live now rise, and say so (in place on ``total``)."""
        rid = rid.copy()
        learned = getattr(snap.bundle, "live_boost", None)  # the hybrid's learned live-now weight
        boost = LIVE_BOOST if learned is None else learned
        for pos, i in enumerate(idx.tolist()):
            session = snap.live_items.get(i)
            if session is None:
                continue
            total[pos] += boost
            current = scores.reasons[rid[pos]]["code"] if rid[pos] >= 0 else ""
            if _PRIORITY.get(current, 1) < _PRIORITY["in_live_now"]:
                scores.reasons.append(
                    {**cached_reason("in_live_now", session.title), "session_id": session.session_id}
                )
                rid[pos] = len(scores.reasons) - 1
        return rid

    def _purchased(self, snap: Snapshot, user_id: str) -> dict[str, float]:
        """The user's purchases: the warehouse snapshot plus those fed back online since."""
        state = self.online.user(user_id)
        return {**snap.purchases.get(user_id, {}), **(state.purchased if state else {})}

    def interest_scores(self, user_id: str) -> dict[str, float]:
        """Personal scores by product id (model candidates and recent feedback); empty when opted out."""
        snap = self.snapshot()
        if user_id in snap.opted_out:
            return {}
        scores = _Scores()
        self._personal(snap, user_id, scores)
        removed = snap.removed.get(user_id)
        cat = snap.catalogue
        idx, total, _ = scores.resolve((lambda ix: cat.removed_mask(ix, removed)) if removed else None)
        return {
            str(snap.catalogue.ids[i]): float(s) for i, s in zip(idx.tolist(), total.tolist(), strict=True)
        }

    # -- feedback and refits -------------------------------------------------------------------
    def feedback(
        self,
        user_id: str,
        product_id: str,
        kind: str,
        *,
        ts: datetime | None = None,
        event_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Record impression/click/cart/purchase feedback: the user's next list changes at once."""
        if kind not in FEEDBACK_TYPES:
            raise ValidationFailed(f"type must be one of {', '.join(FEEDBACK_TYPES)}", field="type")
        if product_id not in self.snapshot().catalogue.index and not self.wh.sql(
            "SELECT 1 FROM products WHERE product_id = ?", [product_id]
        ):
            raise NotFound(f"unknown product {product_id!r}", field="product_id")
        when = ts or datetime.now(UTC)
        event_id = event_id or new_id("fb")
        if self.wh.sql("SELECT 1 FROM events WHERE event_id = ?", [event_id]):
            return {"event_id": event_id, "status": "duplicate"}
        row = {
            "event_id": [event_id],
            "ts": [when],
            "user_id": [user_id],
            "type": [kind],
            "product_id": [product_id],
            "session_id": [session_id],
            "source": ["recommend.feedback"],
        }
        with self.wh.transaction() as con:  # holds the warehouse lock: append alone does not
            self.wh.append("events", pa.table(row), con=con)
        self.online.learn_one(user_id, product_id, kind, when.timestamp())
        if EVENT_WEIGHTS.get(kind, 0) > 0:
            self._mark_dirty(user_id)
        return {"event_id": event_id, "status": "recorded"}

    def _mark_dirty(self, user_id: str) -> None:
        with self._refit_lock:
            self._dirty[user_id] = None
            self._dirty.move_to_end(user_id)
            while len(self._dirty) > self.max_dirty:
                self._dirty.popitem(last=False)
                self.counters["dirty_dropped"] += 1

    def pending_refits(self) -> int:
        return len(self._dirty)

    def refit_pending(self, max_users: int = 256) -> int:
        """One incremental-refit pass over (at most ``max_users`` of) the users whose events changed."""
        with self._refit_lock:
            users = list(self._dirty)[:max_users]
            for u in users:
                del self._dirty[u]
        if not users:
            return 0
        self.counters["refit_passes"] += 1
        return self.refit_users(users)

    def refit_users(self, user_ids: list[str]) -> int:
        """Incremental refit: re-solve the ALS factors of users whose events changed (``implicit``
        ``partial_fit_users`` on their warehouse events) and recompute their cached candidate lists."""
        bundle = self.bundle()
        if bundle is None:
            return 0
        from liveloop.recommend.factorization import ALS

        parts = [bundle.main, *getattr(bundle.main, "fitted_", [])]
        als = next((r for r in parts if isinstance(r, ALS)), None)
        known = [u for u in dict.fromkeys(user_ids) if u in bundle.user_index]
        if not known or als is None:
            return 0
        import scipy.sparse as sp

        rows = self.wh.sql(
            "SELECT user_id, product_id, type, count(*) FROM events WHERE product_id IS NOT NULL "
            "AND user_id IN (SELECT unnest(?)) GROUP BY 1, 2, 3",
            [known],
        )
        pos = {u: r for r, u in enumerate(known)}
        triples = [
            (pos[u], bundle.item_index[p], EVENT_WEIGHTS.get(t, 0.0) * n)
            for u, p, t, n in rows
            if p in bundle.item_index and EVENT_WEIGHTS.get(t, 0.0) > 0
        ]
        r, c, w = (np.array(x) for x in zip(*triples, strict=True)) if triples else ([], [], [])
        user_items = sp.csr_matrix(
            (np.asarray(w, np.float32), (np.asarray(r, np.int64), np.asarray(c, np.int64))),
            shape=(len(known), len(bundle.items)),
        )
        user_items.sum_duplicates()
        idx = np.array([bundle.user_index[u] for u in known])
        als.partial_fit_users(idx, user_items)
        bundle.precompute(idx, bundle.top_items.shape[1])
        self.online.touch(known)  # their cached lists are stale now
        self.counters["refit_users"] += len(known)
        return len(idx)

    def forget_user(self, user_id: str) -> None:
        """Erase what serving holds about a user (online state, cached lists, pending refits)."""
        self.online.forget(user_id)
        self.cache.drop_user(user_id)
        with self._refit_lock:
            self._dirty.pop(user_id, None)
        self._segment_cache.pop(user_id, None)

    # -- background upkeep ---------------------------------------------------------------------
    def start(self, *, retrain_every_s: float | None = None, refit_every_s: float = 30.0) -> None:
        """Start the background worker (snapshot refreshes, audit flushes, refits, scheduled retrains)."""
        from liveloop.recommend.upkeep import Upkeep

        if self.upkeep is None:
            self.upkeep = Upkeep(self, retrain_every_s=retrain_every_s, refit_every_s=refit_every_s)
            self.upkeep.start()

    def stop(self) -> None:
        """Stop the worker and write the buffered audit entries."""
        if self.upkeep is not None:
            self.upkeep.stop()
            self.upkeep = None
        self.flush_audit()

    def stats(self) -> dict[str, Any]:
        snap = self.state.snap
        up = self.upkeep
        return {
            "model_version": snap.version if snap else None,
            "generation": snap.gen if snap else None,
            "products": len(snap.catalogue) if snap else None,
            "live_products": len(snap.live_items) if snap else None,
            "cache": {
                "entries": len(self.cache),
                "max_entries": self.cache.max_entries,
                "hits": self.cache.hits,
                "misses": self.cache.misses,
                "evictions": self.cache.evictions,
            },
            "reloads": dict(self.state.reloads),
            "online_users": len(self.online),
            "pending_refits": self.pending_refits(),
            "audit_buffered": len(self._audit),
            "explore": self.explore,
            **self.counters,
            "upkeep": up.stats() if up is not None else None,
        }

    # -- audit ---------------------------------------------------------------------------------
    def _audit_list(
        self,
        user_id: str,
        context: str,
        pids: list[str],
        codes: list[str],
        mode: str,
        version: str | None,
        actor: str | None,
    ) -> None:
        details = orjson.dumps({"context": context, "version": version, "reasons": codes}).decode()
        self._audit.append((time.time(), actor or "recommend", user_id, ",".join(pids), mode, details))
        n = len(self._audit)
        if n >= self.audit_max or (n >= self.audit_batch and self.upkeep is None):
            self.flush_audit()  # without the worker (or when it falls behind): write inline
        elif n >= self.audit_batch and self.upkeep is not None:
            self.upkeep.wake()

    def flush_audit(self) -> int:
        """Write buffered audit entries in one columnar append (one compact row per list)."""
        with self._audit_lock:
            batch = [self._audit.popleft() for _ in range(len(self._audit))]
            if not batch:
                return 0
            ts, actor, subject, decision, reason, details = zip(*batch, strict=True)
            table = pa.table(
                {
                    "ts": pa.array((np.array(ts) * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC")),
                    "actor": list(actor),
                    "action": ["recommend"] * len(batch),
                    "subject": list(subject),
                    "decision": list(decision),
                    "reason": list(reason),
                    "details": list(details),
                }
            )
            with self.wh.transaction() as con:
                self.wh.append("audit_log", table, con=con)
            self.counters["audit_written"] += len(batch)
        return len(batch)


def _item_json(rank: int, pid: str, title: Any, category: Any, score: float, why: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "rank": rank,
            "product_id": pid,
            "title": str(title),
            "category": str(category),
            "score": round(score, 5),
            "reason": why,
        }
    )


_SERVICES: dict[str, RecommendService] = {}
_SERVICES_LOCK = threading.Lock()


def get_service(wh: Any, settings: Settings | None = None) -> RecommendService:
    """The process-wide service for a warehouse (one per database file)."""
    key = str(getattr(wh, "path", id(wh)))
    with _SERVICES_LOCK:
        svc = _SERVICES.get(key)
        if svc is None or svc.wh is not wh:
            svc = _SERVICES[key] = RecommendService(wh, settings)
        return svc
