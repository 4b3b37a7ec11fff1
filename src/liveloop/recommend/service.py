"""Serving: one user's list for a context, with rules, online re-ranking, exploration, reasons and audit.

``RecommendService`` composes the parts: ``ServingState`` snapshots (refreshed in the background by
``upkeep`` in the server, inline elsewhere), the ``cache`` of served lists (a hit re-draws only the
``exploration`` slot and joins pre-serialised fragments), the ``ranking`` pipeline of a miss over
``candidates``, ``feedback`` with its online update and refits, and the ``audit_buffer``.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from typing import Any

import orjson

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import ValidationFailed
from liveloop.experiments import ArmRouter
from liveloop.privacy.rights import register_forgetter
from liveloop.recommend.audit_buffer import AuditBuffer
from liveloop.recommend.cache import Entry, ResponseCache
from liveloop.recommend.candidates import Candidates, NeedsWarehouse
from liveloop.recommend.exploration import Explorer, explore_from_env
from liveloop.recommend.feedback import FeedbackUpdates
from liveloop.recommend.online import OnlineState
from liveloop.recommend.ranking import LIVE_BOOST, Ranker, parse_context
from liveloop.recommend.state import ServingState, Snapshot
from liveloop.warehouse.artifacts import replace_strings

__all__ = ["LIVE_BOOST", "MAX_K", "RecommendService", "get_service", "parse_context"]

MAX_K = 100
#: The experiments' target whose arms choose the strategy: ``{"strategy": "model" | "popular"}``.
EXPERIMENT_TARGET = "recommend"
STALE_S = 3.0  # a cache hit needs a snapshot checked this recently (else: the refreshing path)


class RecommendService:
    """The serving facade: snapshots, online state, response cache, ranking, exploration, feedback and
    refits, audit buffer."""

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
        self.explore = explore_from_env() if explore is None else explore
        self.state = ServingState(wh, intervals)
        self.online = OnlineState()
        self.cache = ResponseCache(
            self.online, cache_entries or int(os.environ.get("LIVELOOP_RECOMMEND_CACHE", "20000"))
        )
        self.candidates = Candidates(self.state, self.online)
        self.ranker = Ranker(self.state, self.online, self.candidates)
        self.explorer = Explorer(self.online, seed)
        self.updates = FeedbackUpdates(wh, self.state, self.online)
        self.audit = AuditBuffer(wh, audit_batch)
        self.arms = ArmRouter(wh)  # a running experiment on "recommend" decides a user's strategy
        self.upkeep: Any = None  # liveloop.recommend.upkeep.Upkeep while the background worker runs
        register_forgetter(self._erase)

    # -- state ---------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self.state.current()

    def bundle(self) -> Any:
        """The active model bundle (None before the first training)."""
        return self.snapshot().bundle

    def refresh(self) -> None:
        """Re-read model, catalogue and the rest on the next request (after training, imports, rollback)."""
        self.state.invalidate()

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
        arm = self.arms.arm(EXPERIMENT_TARGET, user_id)
        if self.arms.due():
            self.arms.flush()
        key, stamp = self.cache.key(snap, user_id, context, k, popular=_popular(arm))
        entry = self.cache.get(key, stamp, snap.in_stock)
        if entry is None:
            self.cache.misses += 1
            entry = self.ranker.build(snap, user_id, k, kind, ref, stamp, popular=_popular(arm))
            self.cache.put(key, entry)
        return self._respond(snap, entry, user_id, context, k, explore, actor, arm)

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
        if not self.arms.fresh() or self.arms.due():
            return None  # the experiments must be re-read or the exposures written: the thread path
        arm = self.arms.arm(EXPERIMENT_TARGET, user_id, offline=True)
        key, stamp = self.cache.key(snap, user_id, context, k, popular=_popular(arm))
        entry = self.cache.get(key, stamp, snap.in_stock)
        if entry is None:
            if not rank:
                return None
            kind, ref = parse_context(context)
            try:
                entry = self.ranker.build(
                    snap, user_id, k, kind, ref, stamp, offline=True, popular=_popular(arm)
                )
            except NeedsWarehouse:
                return None
            self.cache.misses += 1
            self.cache.put(key, entry)
        return self._respond(snap, entry, user_id, context, k, explore, actor, arm)

    def _respond(
        self,
        snap: Snapshot,
        entry: Entry,
        user_id: str,
        context: str,
        k: int,
        explore: bool | None,
        actor: str | None,
        arm: dict[str, Any] | None = None,
    ) -> bytes:
        """The JSON document of a cached list (with a fresh exploration draw), audited."""
        frags, pids, codes = entry.frags, entry.pids, entry.codes
        use_explore = self.explore if explore is None else explore
        if arm is not None and "explore" in arm["config"]:
            use_explore = bool(arm["config"]["explore"])
        if use_explore and entry.explore:
            pick = self.explorer.pick(snap, entry)
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
                b',"experiment":' + orjson.dumps({"id": arm["experiment_id"], "arm": arm["arm"]})
                if arm
                else b"",
                b"}",
            )
        )
        self.audit.add(user_id, context, pids, codes, entry.mode, entry.version, actor)
        return body

    def interest_scores(self, user_id: str) -> dict[str, float]:
        """Personal scores by product id (model candidates and recent feedback); empty when opted out."""
        return self.candidates.interest_scores(self.snapshot(), user_id)

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
        return self.updates.record(user_id, product_id, kind, ts=ts, event_id=event_id, session_id=session_id)

    def pending_refits(self) -> int:
        return self.updates.pending()

    def refit_pending(self, max_users: int = 256) -> int:
        """One incremental-refit pass over (at most ``max_users`` of) the users whose events changed."""
        return self.updates.refit_pending(max_users)

    def refit_users(self, user_ids: list[str]) -> int:
        """Incremental refit of these users' ALS factors and candidate lists."""
        return self.updates.refit_users(user_ids)

    def forget_user(self, user_id: str) -> None:
        """Erase what serving holds about a user (online state, cached lists, pending refits, exposures
        not yet written)."""
        self.online.forget(user_id)
        self.cache.drop_user(user_id)
        self.updates.forget(user_id)
        self.candidates.forget(user_id)
        self.arms.forget_user(user_id)

    def _erase(self, user_id: str, pseudonym: str) -> None:
        """An erasure: lists served to the user are written to the audit log first (the erasure then
        anonymises them), what serving holds is dropped, and the loaded model no longer names them."""
        self.flush_audit()
        self.forget_user(user_id)
        bundle = self.snapshot().bundle
        if bundle is not None:
            replace_strings(bundle, user_id, pseudonym)

    # -- background upkeep, audit and stats ----------------------------------------------------
    def start(self, *, retrain_every_s: float | None = None, refit_every_s: float = 30.0) -> None:
        """Start the background worker (snapshot refreshes, audit flushes, refits, scheduled retrains)."""
        from liveloop.recommend.upkeep import Upkeep

        if self.upkeep is None:
            self.upkeep = Upkeep(self, retrain_every_s=retrain_every_s, refit_every_s=refit_every_s)
            self.upkeep.start()
            self.audit.worker = self.upkeep

    def stop(self) -> None:
        """Stop the worker and write the buffered audit entries."""
        if self.upkeep is not None:
            self.upkeep.stop()
            self.upkeep = self.audit.worker = None
        self.flush_audit()

    def flush_audit(self) -> int:
        """Write buffered audit entries in one columnar append (one compact row per list), and the
        experiments' first exposures; re-read the running experiments."""
        self.arms.flush()
        self.arms.running()
        return self.audit.flush()

    @property
    def counters(self) -> dict[str, int]:
        return {**self.updates.counters, "audit_written": self.audit.written}

    def stats(self) -> dict[str, Any]:
        snap = self.state.snap
        up = self.upkeep
        return {
            "model_version": snap.version if snap else None,
            "generation": snap.gen if snap else None,
            "products": len(snap.catalogue) if snap else None,
            "live_products": len(snap.live_items) if snap else None,
            "cache": self.cache.stats(),
            "reloads": dict(self.state.reloads),
            "online_users": len(self.online),
            "pending_refits": self.pending_refits(),
            "audit_buffered": len(self.audit),
            "explore": self.explore,
            **self.counters,
            "upkeep": up.stats() if up is not None else None,
        }


def _popular(arm: dict[str, Any] | None) -> bool:
    """Whether the user's arm serves the non-personalised (popularity) list."""
    return arm is not None and arm["config"].get("strategy") == "popular"


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
