"""The ranking pipeline of a cache miss: candidates, impressions, live rooms, serving rules, diversity, and
the list as a cache entry of JSON fragments."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.recommend.cache import Entry, item_json
from liveloop.recommend.candidates import Candidates, NeedsWarehouse
from liveloop.recommend.explain import cached_reason
from liveloop.recommend.online import OnlineState
from liveloop.recommend.rules import category_cap, repurchase_blocked
from liveloop.recommend.scores import PRIORITY, Scores
from liveloop.recommend.state import ServingState, Snapshot

LIVE_BOOST = 0.3  # home lists: a candidate on sale in a room live now (unless the model learned one)
POPULAR_TIE = 0.01  # popularity's weight when it only fills and breaks ties


def parse_context(context: str) -> tuple[str, str | None]:
    """``home`` | ``live:SESSION`` | ``product:ID``."""
    if context == "home":
        return "home", None
    kind, _, ref = context.partition(":")
    if kind in ("live", "product") and ref:
        return kind, ref
    raise ValidationFailed("context must be home, live:SESSION_ID or product:PRODUCT_ID", field="context")


class Ranker:
    """Ranks one user's list for a context from a snapshot."""

    def __init__(self, state: ServingState, online: OnlineState, candidates: Candidates):
        self.state = state
        self.online = online
        self.candidates = candidates

    def build(
        self,
        snap: Snapshot,
        user_id: str,
        k: int,
        kind: str,
        ref: str | None,
        stamp: tuple[Any, ...],
        *,
        offline: bool = False,
        popular: bool = False,
    ) -> Entry:
        """The list as a cache entry; ``offline``: NeedsWarehouse instead of any warehouse query;
        ``popular``: the non-personalised list (an experiment's popularity arm)."""
        cat = snap.catalogue
        version = snap.version
        personal = not popular and user_id not in snap.opted_out

        def empty(mode: str, why: str) -> Entry:
            extra = b',"reason":' + orjson.dumps(why)
            return Entry(stamp, mode, version, extra, [], np.empty(0, np.int64), [], [], explore=False,
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
                raise NeedsWarehouse  # maybe created since the last snapshot: ask the warehouse
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
        scores = Scores()
        fallback = None
        if not personal:
            scores.add(snap.popular_idx, snap.popular_score, personal=False)
            mode = "non_personalised" if user_id in snap.opted_out else "experiment_popular"
        else:
            signals = self.candidates.personal(snap, user_id, scores)
            if not signals:
                fallback = self.candidates.cold_start(snap, user_id, scores, offline)
            mode = "personalised" if signals else "cold_start"
            scores.add(snap.popular_idx, POPULAR_TIE * snap.popular_score, personal=False)
        if kind == "product":
            self.candidates.similar(snap, ref_idx, scores)
        idx, total, rid = scores.resolve((lambda ix: cat.removed_mask(ix, removed)) if removed else None)
        if personal and idx.size:
            total = self.demote_impressions(snap, user_id, idx, total)
        if kind == "home" and snap.live_items and idx.size:
            rid = self.live_boost(snap, idx, total, rid, scores)
        blocked = repurchase_blocked(self.purchased(snap, user_id), cat, time.time()) if personal else set()
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
            frags.append(item_json(rank, pid, cat.titles[i], cat.categories[i], float(total[p]), why))
            codes.append(why["code"])
        chosen = {int(idx[p]) for p in pos}
        extra = b',"fallback":' + orjson.dumps(fallback) if fallback else b""
        return Entry(
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

    def demote_impressions(
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

    def live_boost(
        self, snap: Snapshot, idx: np.ndarray, total: np.ndarray, rid: np.ndarray, scores: Scores
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
            if PRIORITY.get(current, 1) < PRIORITY["in_live_now"]:
                scores.reasons.append(
                    {**cached_reason("in_live_now", session.title), "session_id": session.session_id}
                )
                rid[pos] = len(scores.reasons) - 1
        return rid

    def purchased(self, snap: Snapshot, user_id: str) -> dict[str, float]:
        """The user's purchases: the warehouse snapshot plus those fed back online since."""
        state = self.online.user(user_id)
        return {**snap.purchases.get(user_id, {}), **(state.purchased if state else {})}
