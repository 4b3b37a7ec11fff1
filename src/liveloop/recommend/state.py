"""What serving reads from the warehouse, as immutable snapshots refreshed by cheap fingerprint queries.

Each part (model, catalogue, opt-outs, live sessions, removed tags, purchases, segments) is re-checked on
its own interval with one small query (a version, a count or a hash sum) and reloaded only when that
changed. A reload builds a new ``Snapshot`` and swaps it in one assignment, so a request always sees one
consistent state and never waits for a reload (except the very first). ``Snapshot.gen`` bumps whenever
something that shapes every list changes (model, catalogue, which rooms are live, segments); per-user
parts (opt-out, purchases, removed tags) are compared per user by the response cache instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from liveloop.core.types import Purpose
from liveloop.privacy import consent
from liveloop.privacy.consent import UserSet
from liveloop.recommend import registry
from liveloop.recommend.rules import Catalogue

POPULAR_N = 500
SEGMENT_N = 100
NEW_ITEM_NEIGHBOURS = 5
NEW_ITEM_MIN_SIM = 0.1
MAX_NEW_ITEMS = 20_000

#: Seconds between checks of each part (the fingerprint query is cheap; the reload happens on change).
INTERVALS: dict[str, float] = {
    "model": 2.0,
    "catalogue": 10.0,
    "stock": 1.0,
    "opted_out": 1.0,
    "sessions": 1.0,
    "tags": 1.0,
    "purchases": 10.0,
    "segments": 10.0,
}


@dataclass(frozen=True)
class Session:
    session_id: str
    host_id: str | None
    title: str
    start: datetime | None
    end: datetime | None
    lineup: np.ndarray  # catalogue indices

    def ended(self, now: datetime) -> bool:
        return self.end is not None and self.end <= now

    def live(self, now: datetime) -> bool:
        return self.start is not None and self.start <= now and not self.ended(now)


@dataclass(frozen=True)
class Segment:
    segment_id: str
    name: str
    items: np.ndarray  # catalogue indices, best first
    scores: np.ndarray  # in (0, 1]


@dataclass(frozen=True)
class ServingModel:
    """A model bundle aligned with the catalogue snapshot (index maps, popularity, new-item neighbours)."""

    item_to_cat: np.ndarray  # model item -> catalogue index (-1: no longer in the catalogue)
    cat_to_item: np.ndarray  # catalogue index -> model item (-1: new since training)
    new_items: sp.csr_matrix | None  # (model items x catalogue): similarity to products new since training


@dataclass(frozen=True)
class Snapshot:
    gen: int
    catalogue: Catalogue
    in_stock: np.ndarray
    bundle: Any  # ModelBundle | None
    model: ServingModel | None
    popular_idx: np.ndarray
    popular_score: np.ndarray
    opted_out: UserSet = field(
        default_factory=UserSet
    )  # users personalisation may not use (switch or consent)
    sessions: dict[str, Session] = field(default_factory=dict)
    live_items: dict[int, Session] = field(default_factory=dict)  # catalogue index -> a room live now
    removed: dict[str, frozenset[str]] = field(default_factory=dict)
    purchases: dict[str, dict[str, float]] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    clock: tuple[frozenset[str], int] = (frozenset(), 0)  # (rooms live now, rooms ended): time-driven

    @property
    def version(self) -> str | None:
        return self.bundle.version if self.bundle is not None else None


_UNSET = object()


class ServingState:
    """The current ``Snapshot`` of one warehouse and the logic that keeps it fresh (thread-safe)."""

    def __init__(self, wh: Any, intervals: dict[str, float] | None = None):
        self.wh = wh
        self.intervals = {**INTERVALS, **(intervals or {})}
        self.snap: Snapshot | None = None
        self.checked_at = 0.0  # monotonic time of the last completed check round
        self.reloads: dict[str, int] = dict.fromkeys(self.intervals, 0)
        self._fp: dict[str, Any] = {}
        self._due: dict[str, float] = dict.fromkeys(self.intervals, 0.0)
        self._lock = threading.Lock()
        self._gen = 0

    # -- public --------------------------------------------------------------------------------
    def current(self) -> Snapshot:
        """The snapshot, refreshed first if any part is due (waits only when there is none yet)."""
        if self.snap is None or self.due():
            self.refresh(wait=self.snap is None)
        assert self.snap is not None
        return self.snap

    def due(self) -> bool:
        now = time.monotonic()
        return any(now >= t for t in self._due.values())

    def invalidate(self) -> None:
        """Check every part on the next call (after training, imports or a rollback): what changed
        is reloaded, the rest kept."""
        with self._lock:
            self._due = dict.fromkeys(self.intervals, 0.0)

    def refresh(self, *, wait: bool = True) -> bool:
        """Check the due parts and reload what changed; True if the snapshot changed."""
        if not self._lock.acquire(blocking=wait):
            return False  # another thread is refreshing; keep serving the current snapshot
        try:
            return self._refresh()
        finally:
            self._lock.release()

    # -- the parts -----------------------------------------------------------------------------
    def _refresh(self) -> bool:
        now = time.monotonic()
        due = [name for name, t in self._due.items() if now >= t]
        changes: dict[str, Any] = {}
        for name in due:
            self._due[name] = now + self.intervals[name]
            fp = getattr(self, f"_fp_{name}")()
            if self.snap is not None and self._fp.get(name, _UNSET) == fp:
                continue
            self._fp[name] = fp
            changes[name] = getattr(self, f"_load_{name}")()
            self.reloads[name] += 1
        stock = changes.get("stock")
        snap = self.snap
        if (
            stock is not None
            and snap is not None
            and "catalogue" not in changes
            and len(stock) != len(snap.catalogue)
        ):
            self._fp.pop("catalogue", None)  # products were added or removed meanwhile
            self._due["catalogue"] = 0.0
        old = self.snap
        if old is None or changes or "sessions" in due:
            self.snap = self._compose(old, changes)
        self.checked_at = time.monotonic()
        return self.snap is not old

    def _compose(self, old: Snapshot | None, changes: dict[str, Any]) -> Snapshot:
        """The next snapshot: ``old`` with the reloaded parts; re-aligned when model or catalogue changed."""
        now = datetime.now(UTC)
        if old is not None and not changes:  # only the clock moved: has a room started or ended?
            clock = _clock(old.sessions, now)
            if clock == old.clock:
                return old
            self._gen += 1
            return replace(old, gen=self._gen, live_items=_live_items(old.sessions, now), clock=clock)
        realign = old is None or "model" in changes or "catalogue" in changes
        if old is None:
            cat, bundle = changes["catalogue"], changes["model"]
        else:
            cat, bundle = changes.get("catalogue", old.catalogue), changes.get("model", old.bundle)
        sessions = (
            _sessions(cat, self._session_rows)
            if realign or "sessions" in changes or old is None
            else old.sessions
        )
        segments = (
            _segments(cat, self._segment_rows)
            if realign or "segments" in changes or old is None
            else old.segments
        )
        clock = _clock(sessions, now)
        if realign or old is None or {"segments", "sessions"} & changes.keys() or clock != old.clock:
            self._gen += 1
        if realign:
            model = _align(self.wh, bundle, cat) if bundle is not None else None
            popular_idx, popular_score = self._popular(bundle, model, cat)
            in_stock = cat.in_stock()
        elif "stock" in changes and len(changes["stock"]) == len(cat):
            assert old is not None
            model, popular_idx, popular_score = old.model, old.popular_idx, old.popular_score
            in_stock = changes["stock"] != 0
        else:
            assert old is not None
            model, popular_idx, popular_score, in_stock = (
                old.model, old.popular_idx, old.popular_score, old.in_stock
            )  # fmt: skip

        def part(name: str, attr: str, default: Any) -> Any:
            if name in changes:
                return changes[name]
            return getattr(old, attr) if old is not None else default

        return Snapshot(
            gen=self._gen,
            catalogue=cat,
            in_stock=in_stock,
            bundle=bundle,
            model=model,
            popular_idx=popular_idx,
            popular_score=popular_score,
            opted_out=part("opted_out", "opted_out", UserSet()),
            sessions=sessions,
            live_items=_live_items(sessions, now),
            clock=clock,
            removed=part("tags", "removed", {}),
            purchases=part("purchases", "purchases", {}),
            segments=segments,
        )

    def _popular(
        self, bundle: Any, model: ServingModel | None, cat: Catalogue
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``POPULAR_N`` most popular products as catalogue indices with scores in (0, 1]."""
        if bundle is not None and model is not None:
            pop = np.asarray(bundle.popularity, np.float64)
            order = np.lexsort((np.arange(len(pop)), -pop))
            order = order[(pop[order] > 0) & (model.item_to_cat[order] >= 0)][:POPULAR_N]
            return model.item_to_cat[order], pop[order]
        rows = self.wh.sql(
            "SELECT product_id, count(DISTINCT user_id) AS n FROM events WHERE product_id IS NOT NULL "
            f"GROUP BY 1 ORDER BY n DESC, product_id LIMIT {POPULAR_N}"
        )
        pairs = [(cat.index[p], n) for p, n in rows if p in cat.index]
        peak = float(rows[0][1]) if rows else 1.0
        return (
            np.array([i for i, _ in pairs], np.int64),
            np.array([n / peak for _, n in pairs], np.float64),
        )

    # fingerprints: one cheap query each (the opt-out set is small: it is its own fingerprint)
    def _fp_model(self) -> Any:
        return registry.active_version(self.wh)

    def _fp_catalogue(self) -> Any:
        return self.wh.sql(
            "SELECT count(*), sum(hash(product_id, title, title_en, category, brand)) FROM products"
        )[0]

    def _fp_stock(self) -> Any:
        """Stock moves all the time: checked every second with numbers only (no string hashing), reloaded
        alone, without re-ranking anything."""
        return self.wh.sql(
            "SELECT count(*), sum(coalesce(stock, -1)), sum(coalesce(stock, -1) * (rowid % 100003 + 1)) "
            "FROM products"
        )[0]

    def _fp_opted_out(self) -> Any:
        return consent.withheld(self.wh, Purpose.PERSONALISATION)

    def _fp_sessions(self) -> Any:
        return self.wh.sql(
            "SELECT count(*), sum(hash(session_id, host_id, title, start_ts, end_ts, lineup)) "
            "FROM live_sessions"
        )[0]

    def _fp_tags(self) -> Any:
        return self.wh.sql("SELECT count(*), sum(hash(user_id, tag, action)) FROM tag_overrides")[0]

    def _fp_purchases(self) -> Any:
        return self.wh.sql(
            "SELECT count(*), max(ts) FROM events WHERE type = 'purchase' AND product_id IS NOT NULL"
        )[0]

    def _fp_segments(self) -> Any:
        return self.wh.sql(
            "SELECT (SELECT count(*) FROM profiles), (SELECT max(built_at) FROM profiles), "
            "(SELECT max(built_at) FROM segments)"
        )[0]

    # loaders
    def _load_model(self) -> Any:
        active = self._fp["model"]
        if active is None:
            return None
        current = self.snap.bundle if self.snap is not None else None
        if current is not None and current.version == active[0]:
            return current
        return registry.load_bundle(active[1])

    def _load_catalogue(self) -> Catalogue:
        return Catalogue.from_warehouse(self.wh)

    def _load_stock(self) -> np.ndarray:
        t = self.wh.arrow("SELECT coalesce(stock, -1) AS stock FROM products ORDER BY product_id")
        return np.asarray(t.column("stock").to_numpy(zero_copy_only=False), dtype=np.int64)

    def _load_opted_out(self) -> UserSet:
        value: UserSet = self._fp["opted_out"]
        return value

    _session_rows: list[tuple[Any, ...]] = []  # noqa: RUF012 - replaced, never mutated
    _segment_rows: list[tuple[Any, ...]] = []  # noqa: RUF012

    def _load_sessions(self) -> list[tuple[Any, ...]]:
        self._session_rows = self.wh.sql(
            "SELECT session_id, host_id, coalesce(title, session_id), start_ts, end_ts, lineup "
            "FROM live_sessions"
        )
        return self._session_rows

    def _load_tags(self) -> dict[str, frozenset[str]]:
        rows = self.wh.sql(
            "SELECT user_id, list(tag) FROM tag_overrides WHERE action = 'removed' GROUP BY user_id"
        )
        return {r[0]: frozenset(r[1]) for r in rows}

    def _load_purchases(self) -> dict[str, dict[str, float]]:
        rows = self.wh.sql(
            "SELECT user_id, product_id, epoch(max(ts)) FROM events WHERE type = 'purchase' "
            "AND product_id IS NOT NULL GROUP BY 1, 2"
        )
        table: dict[str, dict[str, float]] = {}
        for user, product, ts in rows:
            table.setdefault(user, {})[product] = float(ts)
        return table

    def _load_segments(self) -> list[tuple[Any, ...]]:
        """Each segment's most popular products among its members (distinct users), best first."""
        self._segment_rows = self.wh.sql(
            "SELECT s.segment_id, coalesce(s.name_zh, s.segment_id), t.product_id, t.n FROM ("
            "  SELECT p.segment_id, e.product_id, count(DISTINCT e.user_id) AS n, row_number() OVER ("
            "    PARTITION BY p.segment_id ORDER BY count(DISTINCT e.user_id) DESC, e.product_id) AS r"
            "  FROM events e JOIN profiles p USING (user_id)"
            "  WHERE e.product_id IS NOT NULL AND p.segment_id IS NOT NULL GROUP BY 1, 2"
            f") t JOIN segments s USING (segment_id) WHERE t.r <= {SEGMENT_N} ORDER BY 1, t.r"
        )
        return self._segment_rows

    def session_from_db(self, session_id: str, cat: Catalogue) -> Session | None:
        """A session created since the last snapshot (None if it does not exist)."""
        rows = self.wh.sql(
            "SELECT session_id, host_id, coalesce(title, session_id), start_ts, end_ts, lineup "
            "FROM live_sessions WHERE session_id = ?",
            [session_id],
        )
        return _sessions(cat, rows).get(session_id)

    def segment_of(self, user_id: str) -> str | None:
        """The user's segment in the latest profile build (None without a profile)."""
        rows = self.wh.sql("SELECT segment_id FROM profiles WHERE user_id = ?", [user_id])
        return rows[0][0] if rows and rows[0][0] else None


def _sessions(cat: Catalogue, rows: list[tuple[Any, ...]]) -> dict[str, Session]:
    return {
        r[0]: Session(
            r[0], r[1], r[2], r[3], r[4],
            np.array([cat.index[p] for p in (r[5] or []) if p in cat.index], np.int64),
        )
        for r in rows
    }  # fmt: skip


def _segments(cat: Catalogue, rows: list[tuple[Any, ...]]) -> dict[str, Segment]:
    grouped: dict[str, tuple[str, list[int], list[float]]] = {}
    for seg, name, product, n in rows:
        if product in cat.index:
            entry = grouped.setdefault(seg, (name, [], []))
            entry[1].append(cat.index[product])
            entry[2].append(float(n))
    return {
        seg: Segment(seg, name, np.array(idx, np.int64), np.array(n) / max(n))
        for seg, (name, idx, n) in grouped.items()
    }


def _clock(sessions: dict[str, Session], now: datetime) -> tuple[frozenset[str], int]:
    live = frozenset(s.session_id for s in sessions.values() if s.live(now))
    return live, sum(1 for s in sessions.values() if s.ended(now))


def _live_items(sessions: dict[str, Session], now: datetime) -> dict[int, Session]:
    out: dict[int, Session] = {}
    for s in sorted(sessions.values(), key=lambda s: s.session_id):
        if s.live(now):
            for i in s.lineup.tolist():
                out.setdefault(i, s)
    return out


def _align(wh: Any, bundle: Any, cat: Catalogue) -> ServingModel:
    """Map the model's items onto the catalogue; link products new since training to similar known ones."""
    item_to_cat = np.array([cat.index.get(str(i), -1) for i in bundle.items], np.int64)
    cat_to_item = np.full(len(cat), -1, np.int64)
    known = item_to_cat >= 0
    cat_to_item[item_to_cat[known]] = np.flatnonzero(known)
    return ServingModel(item_to_cat, cat_to_item, _new_item_links(wh, bundle, cat, cat_to_item))


def _new_item_links(wh: Any, bundle: Any, cat: Catalogue, cat_to_item: np.ndarray) -> sp.csr_matrix | None:
    """Content cold start: each product the model has not seen, linked to its nearest known products."""
    content = getattr(bundle, "content", None)
    new = np.flatnonzero(cat_to_item < 0)[:MAX_NEW_ITEMS]
    if content is None or len(new) == 0:
        return None
    from liveloop.recommend.sources import products_frame

    texts = products_frame(wh).reindex(cat.ids[new])["text"].fillna("").astype(str).tolist()
    from sklearn.preprocessing import normalize

    from liveloop.recommend.knn import prune_rows

    vectors = normalize(content.vectorizer_.transform(texts)).astype(np.float32)
    sims = (vectors @ content.item_vectors_.T).tocsr()  # (new products x model items), cosine
    sims.data[sims.data < NEW_ITEM_MIN_SIM] = 0.0
    sims.eliminate_zeros()
    sims = prune_rows(sims, NEW_ITEM_NEIGHBOURS).tocoo()
    return sp.csr_matrix(
        (sims.data, (sims.col, new[sims.row])), shape=(len(bundle.items), len(cat)), dtype=np.float32
    )
