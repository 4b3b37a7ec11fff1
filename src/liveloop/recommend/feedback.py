"""Feedback: the event it records, the online update it makes at once and the incremental refits it queues."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from liveloop.core.clock import checked_time
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.recommend.interactions import EVENT_WEIGHTS
from liveloop.recommend.online import FEEDBACK_WEIGHTS, OnlineState
from liveloop.recommend.state import ServingState

FEEDBACK_TYPES = tuple(FEEDBACK_WEIGHTS)


class FeedbackUpdates:
    """Records feedback events and keeps the bounded queue of users whose ALS factors need a refit."""

    def __init__(self, wh: Any, state: ServingState, online: OnlineState, max_dirty: int = 10_000):
        self.wh = wh
        self.state = state
        self.online = online
        self.max_dirty = max_dirty
        self._dirty: OrderedDict[str, None] = OrderedDict()  # users whose events changed
        self._lock = threading.Lock()
        self.counters = {"refit_users": 0, "refit_passes": 0, "dirty_dropped": 0}

    def record(
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
        if product_id not in self.state.current().catalogue.index and not self.wh.sql(
            "SELECT 1 FROM products WHERE product_id = ?", [product_id]
        ):
            raise NotFound(f"unknown product {product_id!r}", field="product_id")
        when = checked_time(ts, "ts") if ts is not None else datetime.now(UTC)
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
        with self._lock:
            self._dirty[user_id] = None
            self._dirty.move_to_end(user_id)
            while len(self._dirty) > self.max_dirty:
                self._dirty.popitem(last=False)
                self.counters["dirty_dropped"] += 1

    def pending(self) -> int:
        return len(self._dirty)

    def refit_pending(self, max_users: int = 256) -> int:
        """One incremental-refit pass over (at most ``max_users`` of) the users whose events changed."""
        with self._lock:
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
        bundle = self.state.current().bundle
        if bundle is None:
            return 0
        from liveloop.recommend.factorization import ALS, SparkALS

        parts = [bundle.main, *getattr(bundle.main, "fitted_", [])]
        als = next((r for r in parts if isinstance(r, ALS | SparkALS)), None)
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

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._dirty.pop(user_id, None)
