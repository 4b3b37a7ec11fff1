"""Serving: one user's list for a context, with rules, online re-ranking, exploration, reasons and audit."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.recommend import registry
from liveloop.recommend.explain import reason
from liveloop.recommend.online import FEEDBACK_WEIGHTS, OnlineState
from liveloop.recommend.rules import Catalogue, category_cap, repurchase_blocked
from liveloop.recommend.train import ModelBundle

MAX_K = 100
FEEDBACK_TYPES = tuple(FEEDBACK_WEIGHTS)
ONLINE_BOOST = 2.0  # weight of the recent-items signal against the (normalised) model score


def parse_context(context: str) -> tuple[str, str | None]:
    """``home`` | ``live:SESSION`` | ``product:ID``."""
    if context == "home":
        return "home", None
    kind, _, ref = context.partition(":")
    if kind in ("live", "product") and ref:
        return kind, ref
    raise ValidationFailed("context must be home, live:SESSION_ID or product:PRODUCT_ID", field="context")


class RecommendService:
    """Holds the active model, a catalogue snapshot and the online state of one process."""

    def __init__(
        self,
        wh: Any,
        settings: Settings | None = None,
        *,
        explore: bool = True,
        seed: int = 0,
        catalogue_ttl_s: float = 30.0,
        audit_batch: int = 200,
    ):
        self.wh = wh
        self.settings = settings or get_settings()
        self.explore = explore
        self.online = OnlineState()
        self.rng = np.random.default_rng(seed)
        self.catalogue_ttl_s = catalogue_ttl_s
        self.audit_batch = audit_batch
        self._bundle: ModelBundle | None = None
        self._bundle_checked = 0.0
        self._catalogue: Catalogue | None = None
        self._catalogue_at = 0.0
        self._purchases: tuple[float, dict[str, dict[str, float]]] | None = None
        self._opted: tuple[float, frozenset[str]] | None = None
        self.opt_out_ttl_s = 1.0
        self._audit: list[dict[str, Any]] = []
        self._popular_cache: tuple[str, dict[str, float]] | None = None
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------
    def bundle(self) -> ModelBundle | None:
        """The active model (re-checked every 5 s; loaded once even under concurrent requests)."""
        if self._bundle is not None and time.monotonic() - self._bundle_checked <= 5.0:
            return self._bundle
        with self._load_lock:
            if self._bundle is None or time.monotonic() - self._bundle_checked > 5.0:
                active = registry.active_version(self.wh)
                if active is None:
                    self._bundle = None
                elif self._bundle is None or self._bundle.version != active[0]:
                    self._bundle = registry.load_bundle(active[1])
                self._bundle_checked = time.monotonic()
        return self._bundle

    def catalogue(self) -> Catalogue:
        now = time.monotonic()
        if self._catalogue is not None and now - self._catalogue_at <= self.catalogue_ttl_s:
            return self._catalogue
        with self._load_lock:
            if self._catalogue is None or time.monotonic() - self._catalogue_at > self.catalogue_ttl_s:
                self._catalogue = Catalogue.from_warehouse(self.wh)
                self._catalogue_at = time.monotonic()
        return self._catalogue

    def refresh(self) -> None:
        """Drop cached model, catalogue and purchase snapshots (after training or imports)."""
        with self._lock:
            self._bundle, self._catalogue, self._bundle_checked = None, None, 0.0
            self._purchases = self._opted = None

    def _opted_out(self) -> frozenset[str]:
        """Users in the non-personalised mode (one small query, re-read at most every second)."""
        now = time.monotonic()
        if self._opted is None or now - self._opted[0] > self.opt_out_ttl_s:
            rows = self.wh.sql("SELECT user_id FROM users WHERE non_personalised")
            self._opted = (now, frozenset(r[0] for r in rows))
        return self._opted[1]

    def _user_flags(self, user_id: str) -> tuple[bool, bool]:
        """(known to the model, opted out of personalisation)."""
        bundle = self._bundle
        return bool(bundle and user_id in bundle.user_index), user_id in self._opted_out()

    def _purchased(self, user_id: str) -> dict[str, float]:
        """The user's purchases: a warehouse snapshot (re-read every ``catalogue_ttl_s``) plus online ones."""
        now = time.monotonic()
        if self._purchases is None or now - self._purchases[0] > self.catalogue_ttl_s:
            self._load_purchases()
        state = self.online.user(user_id)
        assert self._purchases is not None
        return {**self._purchases[1].get(user_id, {}), **(state.purchased if state else {})}

    def _load_purchases(self) -> None:
        with self._load_lock:
            if self._purchases is not None and time.monotonic() - self._purchases[0] <= self.catalogue_ttl_s:
                return
            rows = self.wh.sql(
                "SELECT user_id, product_id, epoch(max(ts)) FROM events WHERE type = 'purchase' "
                "AND product_id IS NOT NULL GROUP BY 1, 2"
            )
            table: dict[str, dict[str, float]] = {}
            for user, product, ts in rows:
                table.setdefault(user, {})[product] = float(ts)
            self._purchases = (time.monotonic(), table)

    # -- scoring -------------------------------------------------------------------------------
    def _personal_scores(
        self, user_id: str, bundle: ModelBundle | None
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Model scores (cached list) blended with the user's recent feedback; reasons per item."""
        scores: dict[str, float] = {}
        reasons: dict[str, Any] = {}
        if bundle is None:
            return scores, reasons
        u = bundle.user_index.get(user_id)
        if u is not None:
            vals = bundle.top_scores[u]
            finite = np.isfinite(vals)
            lo, hi = (vals[finite].min(), vals[finite].max()) if finite.any() else (0.0, 1.0)
            norm = (vals - lo) / (hi - lo) if hi > lo else np.ones_like(vals)
            for i, s in zip(bundle.top_items[u][finite], norm[finite], strict=True):
                scores[str(bundle.items[i])] = float(s)
                reasons[str(bundle.items[i])] = reason("similar_users")
        state = self.online.user(user_id)
        if state and state.recent:
            recent = [(bundle.item_index.get(i), FEEDBACK_WEIGHTS.get(t, 1.0)) for i, t, _ in state.recent]
            recent = [(i, w) for i, w in recent if i is not None and w > 0]
            if recent:
                idx = np.array([i for i, _ in recent])
                boost = bundle.knn.score_history(idx, np.array([w for _, w in recent], np.float32))
                top = np.argsort(-boost)[:200]
                top = top[boost[top] > 0]
                peak = float(boost[top[0]]) if len(top) else 1.0
                last_title = str(bundle.items[idx[-1]])
                for i in top:
                    pid = str(bundle.items[i])
                    scores[pid] = scores.get(pid, 0.0) + ONLINE_BOOST * float(boost[i]) / peak
                    reasons[pid] = reason("because_viewed", self._title(last_title))
        if state:
            for pid, shown in state.impressions.items():  # shown but not engaged: gently demote
                if pid in scores:
                    scores[pid] -= 0.05 * min(shown, 5)
        return scores, reasons

    def _title(self, product_id: str) -> str:
        cat = self.catalogue()
        i = cat.index.get(product_id)
        return str(cat.titles[i]) if i is not None else product_id

    def _popular(self, bundle: ModelBundle | None, cat: Catalogue) -> dict[str, float]:
        if bundle is not None:
            cached = self._popular_cache
            if cached is None or cached[0] != bundle.version:
                order = np.argsort(-bundle.popularity, kind="stable")[:500]
                top = {
                    str(bundle.items[i]): float(bundle.popularity[i])
                    for i in order
                    if bundle.popularity[i] > 0
                }
                cached = self._popular_cache = (bundle.version, top)
            return cached[1]
        rows = self.wh.sql(
            "SELECT product_id, count(DISTINCT user_id) AS n FROM events WHERE product_id IS NOT NULL "
            "GROUP BY 1 ORDER BY n DESC, product_id LIMIT 500"
        )
        peak = float(rows[0][1]) if rows else 1.0
        return {r[0]: r[1] / peak for r in rows}

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
        if not 1 <= k <= MAX_K:
            raise ValidationFailed(f"k must be between 1 and {MAX_K}", field="k")
        kind, ref = parse_context(context)
        cat = self.catalogue()
        out: dict[str, Any] = {"user_id": user_id, "context": context, "k": k}
        if len(cat) == 0:
            return {
                **out,
                "items": [],
                "mode": "empty",
                "reason": "the catalogue is empty: no products to recommend",
            }
        allowed = cat.in_stock()
        lineup_reason = None
        if kind == "product":
            if ref not in cat.index:
                raise NotFound(f"unknown product {ref!r}", field="context")
        elif kind == "live":
            session = self.wh.sql("SELECT lineup, end_ts FROM live_sessions WHERE session_id = ?", [ref])
            if not session:
                raise NotFound(f"unknown live session {ref!r}", field="context")
            lineup, end_ts = session[0]
            if end_ts is not None and end_ts <= datetime.now(UTC):
                return {**out, "items": [], "mode": "ended", "reason": f"live session {ref} has ended"}
            mask = np.zeros(len(cat), bool)
            mask[[cat.index[p] for p in (lineup or []) if p in cat.index]] = True
            allowed &= mask
            lineup_reason = reason("in_this_live")
        bundle = self.bundle()
        known, opted_out = self._user_flags(user_id)
        personal = not opted_out
        popular = self._popular(bundle, cat)
        reasons: dict[str, Any] = {}
        if not personal:
            scores, mode = dict(popular), "non_personalised"
        else:
            scores, reasons = self._personal_scores(user_id, bundle)
            mode = "personalised" if scores else "cold_start"
            for pid, s in popular.items():  # popularity fills and breaks ties
                scores[pid] = scores.get(pid, 0.0) + 0.01 * s
        if kind == "product" and ref is not None:
            self._add_similar(ref, bundle, scores, reasons)
        blocked = repurchase_blocked(self._purchased(user_id), cat, time.time()) if personal else set()
        candidates = [
            (pid, s) for pid, s in scores.items()
            if pid in cat.index and allowed[cat.index[pid]] and pid not in blocked and pid != ref
        ]  # fmt: skip
        if kind == "live" and len(candidates) < k:  # every lineup item is eligible in its room
            have = {p for p, _ in candidates}
            candidates += [
                (str(cat.ids[i]), -1.0) for i in np.flatnonzero(allowed) if str(cat.ids[i]) not in have
            ]
        candidates.sort(key=lambda t: (-t[1], t[0]))
        idx = category_cap([cat.index[p] for p, _ in candidates], cat.categories, k)
        chosen = [str(cat.ids[i]) for i in idx]
        score_of = dict(candidates)
        use_explore = self.explore if explore is None else explore
        if use_explore and personal and len(chosen) >= 3:
            draws = np.unique(self.rng.integers(0, len(cat), 64))  # O(1) in the catalogue size
            pool = [str(cat.ids[i]) for i in draws[allowed[draws]]]
            pool = [p for p in pool if p not in chosen and p not in blocked and p != ref]
            if pool:
                pick = self.online.thompson(pool, self.rng)
                chosen[-1] = pick
                reasons[pick] = reason("explore")
        items = []
        for rank, pid in enumerate(chosen, 1):
            why = reasons.get(pid) or (
                lineup_reason if lineup_reason else reason("non_personalised" if not personal else "popular")
            )
            if kind == "live" and why["code"] not in ("explore",):
                why = lineup_reason or why
            i = cat.index[pid]
            items.append(
                {
                    "rank": rank,
                    "product_id": pid,
                    "title": cat.titles[i],
                    "category": cat.categories[i],
                    "score": round(float(score_of.get(pid, 0.0)), 5),
                    "reason": why,
                }
            )
        out.update(items=items, mode=mode, model_version=bundle.version if bundle else None, known_user=known)
        self._audit_list(user_id, context, items, mode, out["model_version"], actor)
        return out

    def _add_similar(
        self, ref: str, bundle: ModelBundle | None, scores: dict[str, float], reasons: dict[str, Any]
    ) -> None:
        if bundle is None or ref not in bundle.item_index:
            return
        title = self._title(ref)
        sims, vals = bundle.knn.similar_items(bundle.item_index[ref], 50)
        for i, v in zip(sims, vals, strict=True):
            pid = str(bundle.items[i])
            scores[pid] = scores.get(pid, 0.0) + 3.0 * float(v)
            reasons[pid] = reason("similar_item", title)
        if bundle.content is not None and len(sims) < 10:
            s = bundle.content.score_history(np.array([bundle.item_index[ref]]))
            for i in np.argsort(-s)[:20]:
                pid = str(bundle.items[i])
                if s[i] > 0 and pid not in reasons:
                    scores[pid] = scores.get(pid, 0.0) + float(s[i])
                    reasons[pid] = reason("similar_item", title)

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
        if product_id not in self.catalogue().index and not self.wh.sql(
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
        with self._lock:
            self.wh.append("events", pa.table(row))
        self.online.learn_one(user_id, product_id, kind, when.timestamp())
        return {"event_id": event_id, "status": "recorded"}

    def refit_users(self, user_ids: list[str]) -> int:
        """Incremental refit: re-solve ALS factors of users whose events changed, refresh their lists."""
        bundle = self.bundle()
        if bundle is None:
            return 0
        from liveloop.recommend.factorization import ALS
        from liveloop.recommend.sources import from_warehouse

        known = [u for u in user_ids if u in bundle.user_index]
        parts = [bundle.main, *getattr(bundle.main, "fitted_", [])]
        als = next((r for r in parts if isinstance(r, ALS)), None)
        if not known or als is None:
            return 0
        data = from_warehouse(self.wh)
        rows = np.array([data.user_index()[u] for u in known if u in data.user_index()])
        cols = np.array([bundle.item_index.get(str(i), -1) for i in data.items])
        m = data.matrix[rows].tocoo()
        keep = cols[m.col] >= 0
        import scipy.sparse as sp

        user_items = sp.csr_matrix(
            (m.data[keep], (m.row[keep], cols[m.col[keep]])), shape=(len(rows), len(bundle.items))
        )
        idx = np.array([bundle.user_index[u] for u in known])
        als.partial_fit_users(idx, user_items)
        bundle.precompute(idx, bundle.top_items.shape[1])
        return len(idx)

    # -- audit ---------------------------------------------------------------------------------
    def _audit_list(
        self,
        user_id: str,
        context: str,
        items: list[dict[str, Any]],
        mode: str,
        version: str | None,
        actor: str | None,
    ) -> None:
        entry = {
            "ts": datetime.now(UTC),
            "actor": actor or "recommend",
            "action": "recommend",
            "subject": user_id,
            "decision": ",".join(i["product_id"] for i in items),
            "reason": mode,
            "details": json.dumps(
                {"context": context, "version": version, "reasons": [i["reason"]["code"] for i in items]}
            ),
        }
        with self._lock:
            self._audit.append(entry)
            full = len(self._audit) >= self.audit_batch
        if full:
            self.flush_audit()

    def flush_audit(self) -> int:
        """Write buffered audit entries in one append (bounded buffer, compact rows)."""
        with self._lock:
            batch, self._audit = self._audit, []
            if batch:
                self.wh.append("audit_log", pa.Table.from_pylist(batch))
        return len(batch)


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
