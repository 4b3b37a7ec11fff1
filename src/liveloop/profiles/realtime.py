"""Real-time interest and similar users as served features.

``InterestTracker`` keeps each looked-up user's ``InterestState`` (bounded LRU) and advances it with the
user's events newer than the last one it applied, one ``update`` per event, whenever the user is read:
events arriving through any path (API ingest, imports, feedback) are picked up at the next read with
no re-reading of history. At most ``length`` events are applied per read; a user with more new events
than that is re-seeded from the latest ``length`` (what the model was trained on). The state lives in
this process: one API process needs nothing else (a store shared by several is not built).
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis

from liveloop.core.errors import InsufficientData, NotFound
from liveloop.core.i18n import N_
from liveloop.core.types import Purpose
from liveloop.privacy import consent
from liveloop.privacy.rights import register_forgetter
from liveloop.profiles.artifacts import ModelCache, active
from liveloop.profiles.features import interest_events
from liveloop.profiles.interest import InterestModel, InterestState
from liveloop.profiles.similar import SimilarUsers
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

INTEREST, SIMILAR = "interest", "similar_users"
#: Far enough ahead that no event is left out of the served interest window.
_OPEN_END = datetime(9999, 1, 1, tzinfo=UTC)
_ARCH_NAMES = {"lstm": "LSTM", "attention": "self-attention"}
#: Stands for the user in the compiled per-user query (replaced by a bound parameter).
_PLACEHOLDER = "__liveloop_user_parameter__"

_MODELS = ModelCache(max_models=4)


def _user_flags(wh: Warehouse, user_id: str) -> tuple[bool, str | None, frozenset[str]]:
    """(known, why nothing may be computed about the user or None, removed categories) in one query."""
    row = wh.sql(
        "SELECT (SELECT count(*) FROM users WHERE user_id = $u) "
        "+ (SELECT count(*) FROM profiles WHERE user_id = $u), "
        f"NOT ({consent.allowed_sql('$u', Purpose.PERSONALISATION)}), "
        f"NOT ({consent.allowed_sql('$u', Purpose.PROFILING)}), "
        "(SELECT list(substr(tag, 10)) FROM tag_overrides WHERE user_id = $u AND tag LIKE 'category:%')",
        {"u": user_id},
    )[0]
    why = (
        N_("not computed: the user switched personalisation off")
        if row[1]
        else N_("not computed: the user refused profiling")
        if row[2]
        else None
    )
    return bool(row[0]), why, frozenset(row[3] or ())


@dataclass
class _Entry:
    state: InterestState
    version: str
    removed: frozenset[str]
    last: tuple[datetime, str] | None = None
    latest: str | None = None


class InterestTracker:
    """Per-user interest states of one warehouse, at most ``max_users`` (least recently read evicted)."""

    def __init__(self, max_users: int = 10_000):
        self.max_users = max_users
        self._users: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._sql: str | None = None
        self.counters = {"reads": 0, "cold_starts": 0, "warm_reads": 0, "events_applied": 0, "evictions": 0}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self.counters, "users": len(self._users)}

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._users.pop(user_id, None)

    def _events_sql(self, wh: Warehouse) -> str:
        """One user's interest events as SQL with a ``$u`` parameter, compiled once: the user filter sits
        on the base tables (events, orders), so a read scans only that user's rows."""
        if self._sql is None:
            expr = interest_events(wh, Window(cutoff=_OPEN_END, user_id=_PLACEHOLDER))
            sql = str(ibis.to_sql(expr, dialect="duckdb"))
            if f"'{_PLACEHOLDER}'" not in sql:
                raise RuntimeError("the compiled interest query lost its user filter")
            self._sql = sql.replace(f"'{_PLACEHOLDER}'", "$u")
        return self._sql

    def _recent(
        self, wh: Warehouse, user_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, str, str]]:
        """The user's newest ``limit`` interest events after ``after``, newest first."""
        cond, params = "TRUE", {"u": user_id, "n": limit}
        if after is not None:
            cond += " AND ts >= $t AND (ts > $t OR ref > $r)"
            params |= {"t": after[0], "r": after[1]}
        return [
            (r[0], r[1], r[2])
            for r in wh.sql(
                f"SELECT ts, ref, category FROM ({self._events_sql(wh)}) AS e WHERE {cond} "
                "ORDER BY ts DESC, ref DESC LIMIT $n",
                params,
            )
        ]

    def predict(self, wh: Warehouse, user_id: str, k: int = 5) -> dict[str, Any]:
        """The user's predicted next categories with probabilities and a one-line explanation."""
        known, withheld, removed = _user_flags(wh, user_id)
        if not known:
            raise NotFound(f"user {user_id!r} is unknown", field="user_id")
        meta = active(wh, INTEREST)
        if withheld:
            return _no_interest(withheld, meta)
        if meta is None or meta["path"] is None:
            return _no_interest(
                N_("insufficient data: no interest model yet (run `liveloop profiles build`)")
            )
        model: InterestModel = _MODELS.get(meta["path"] / "model.pt", InterestModel.load)
        with self._lock:
            self.counters["reads"] += 1
            entry = self._users.get(user_id)
            if entry is not None and (entry.version != meta["version"] or entry.removed != removed):
                entry = None  # a new model or a removed tag: start again from the user's events
        after = entry.last if entry else None
        rows = self._recent(wh, user_id, after, model.length + 1)
        with self._lock:
            if entry is None or len(rows) > model.length:
                entry = _Entry(model.state(exclude=removed), meta["version"], removed)
                self.counters["cold_starts"] += 1
                rows = rows[: model.length]
            else:
                self.counters["warm_reads"] += 1
            for ts, ref, category in reversed(rows):  # oldest first
                entry.state.update(category)
                entry.last, entry.latest = (ts, ref), category
            self.counters["events_applied"] += len(rows)
            self._users[user_id] = entry
            self._users.move_to_end(user_id)
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
                self.counters["evictions"] += 1
            try:
                top = entry.state.top(k)
            except InsufficientData:
                return _no_interest(N_("insufficient data: no events with a category yet"), meta)
            seen = entry.state.events_seen
            latest = entry.latest
        m = meta["metrics"]
        arch = _ARCH_NAMES.get(str(meta["params"].get("arch")), str(meta["params"].get("arch")))
        held_out = (
            f"; held-out top-1 {m['accuracy']:.0f}% vs {m['baseline']['accuracy']:.0f}% for repeating "
            "the last category"
            if "accuracy" in m and "baseline" in m
            else ""
        )
        return {
            "categories": [{"category": c, "probability": round(p, 4)} for c, p in top],
            "explanation": (
                f"{arch} next-category model over the user's last {min(seen, model.length)} events with a "
                f"category (latest: {latest}){held_out}" + ("; removed tags excluded" if removed else "")
            ),
            "model_version": meta["version"],
            "events_seen": seen,
        }


def _no_interest(why: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "categories": [],
        "explanation": why,
        "model_version": meta["version"] if meta else None,
        "events_seen": 0,
    }


_TRACKERS: OrderedDict[str, InterestTracker] = OrderedDict()
_TRACKERS_LOCK = threading.Lock()


def interest_tracker(wh: Warehouse, max_warehouses: int = 4) -> InterestTracker:
    """The tracker of ``wh`` in this process (one per warehouse file, the oldest dropped beyond 4)."""
    key = str(wh.path.resolve())
    with _TRACKERS_LOCK:
        tracker = _TRACKERS.get(key)
        if tracker is None:
            tracker = _TRACKERS[key] = InterestTracker()
            while len(_TRACKERS) > max_warehouses:
                _TRACKERS.popitem(last=False)
        _TRACKERS.move_to_end(key)
        return tracker


def _erase(user_id: str, pseudonym: str) -> None:
    """An erasure: no tracker keeps the user's state, no loaded model their id."""
    with _TRACKERS_LOCK:
        trackers = list(_TRACKERS.values())
    for tracker in trackers:
        tracker.forget(user_id)
    _MODELS.rename(user_id, pseudonym)


register_forgetter(_erase)


def predict_interest(wh: Warehouse, user_id: str, k: int = 5) -> dict[str, Any]:
    """The user's real-time interest (see ``InterestTracker.predict``)."""
    return interest_tracker(wh).predict(wh, user_id, k)


def similar_users(wh: Warehouse, user_id: str, k: int = 10) -> dict[str, Any]:
    """The ``k`` users whose implicit-ALS embeddings are closest to the user's, each with a reason."""
    known, withheld, _ = _user_flags(wh, user_id)
    if not known:
        raise NotFound(f"user {user_id!r} is unknown", field="user_id")
    meta = active(wh, SIMILAR)
    out: dict[str, Any] = {
        "user_id": user_id,
        "items": [],
        "model_version": meta["version"] if meta else None,
    }
    if withheld:
        return out | {"explanation": withheld}
    if meta is None or meta["path"] is None:
        return out | {
            "explanation": N_("insufficient data: no similar-users model yet (run `liveloop profiles build`)")
        }
    model: SimilarUsers = _MODELS.get(meta["path"] / "model.pkl", SimilarUsers.load)
    try:
        near = model.similar(user_id, 3 * k + 10)
    except NotFound:
        return out | {
            "explanation": N_("insufficient data: the user had no product interactions in the build window")
        }
    ids = [u for u, _ in near]
    excluded = consent.withheld(wh, Purpose.PERSONALISATION, among=ids)
    tags: dict[str, list[str]] = dict(
        wh.sql(
            "SELECT user_id, tags FROM profiles WHERE list_contains($ids, user_id)", {"ids": [user_id, *ids]}
        )
    )
    near = [(u, s) for u, s in near if u not in excluded and u in tags][:k]  # erased users have no profile
    mine = set(tags.get(user_id) or ())
    items = []
    for other, sim in near:
        shared = [t for t in (tags.get(other) or ()) if t in mine]
        items.append(
            {
                "user_id": other,
                "similarity": round(sim, 4),
                "shared_tags": shared,
                "explanation": (
                    f"cosine {sim:.2f} of ALS embeddings; both interested in {', '.join(shared)}"
                    if shared
                    else f"cosine {sim:.2f} of ALS embeddings: similar products, no shared top tags"
                ),
            }
        )
    return out | {
        "items": items,
        "explanation": N_(
            "nearest users by cosine of implicit-ALS embeddings of weighted product interactions"
        ),
    }


#: A look-alike expansion reads the neighbours of at most this many seed users (a random sample beyond).
MAX_SEEDS = 5000


def lookalikes(wh: Warehouse, seeds: list[str], size: int, *, per_seed: int = 30) -> list[tuple[str, float]]:
    """Up to ``size`` users most like ``seeds`` (summed cosine over the seeds' nearest neighbours in the
    similar-users model), best first, seeds and users who refused personalisation left out."""
    meta = active(wh, SIMILAR)
    if meta is None or meta["path"] is None:
        raise InsufficientData("no similar-users model yet (run `liveloop profiles build`)")
    model: SimilarUsers = _MODELS.get(meta["path"] / "model.pkl", SimilarUsers.load)
    seed_set = set(seeds)
    sample = sorted(seed_set)
    if len(sample) > MAX_SEEDS:
        sample = random.Random(0).sample(sample, MAX_SEEDS)
    score: dict[str, float] = {}
    for user in sample:
        try:
            near = model.similar(user, per_seed)
        except NotFound:  # no interactions in the build window
            continue
        for other, sim in near:
            if other not in seed_set and sim > 0:
                score[other] = score.get(other, 0.0) + float(sim)
    excluded = consent.withheld(wh, Purpose.PERSONALISATION, among=list(score))
    ranked = sorted(((u, s) for u, s in score.items() if u not in excluded), key=lambda x: (-x[1], x[0]))
    return ranked[:size]
