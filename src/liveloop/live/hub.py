"""The live hub: sessions, bounded intake queues, batched processing and snapshots for the faces.

Producers (HTTP batches, the WebSocket, a replay) call :meth:`LiveHub.submit`; a worker thread drains
each session's queue in batches (one NLP pass per batch), updates the room state, answers new
questions and bumps the session's version. Queues, sessions and every per-room structure are
capped; what does not fit is dropped and counted (exposed on /metrics by the API face).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.content.compliance import ComplianceChecker
from liveloop.core.errors import Conflict, NotFound, ValidationFailed
from liveloop.live import advisor
from liveloop.live.embeddings import Embedder
from liveloop.live.events import RoomEvent, parse_event
from liveloop.live.mentions import MentionMatcher
from liveloop.live.nlp import CommentModel
from liveloop.live.qa import DEFAULT_POLICIES, Answerer, KnowledgeBase
from liveloop.live.room import RoomState
from liveloop.live.training import ModelProvider

QUEUE_CAP = 50_000  # events waiting per session
BATCH = 5_000  # events per processing step
MAX_SESSIONS = 64
MAX_BATCH_REQUEST = 5_000  # events in one HTTP/WebSocket message
MAX_PROFILE_LOOKUPS = 200_000  # viewers per session whose profile is looked up
ANSWERS_PER_STEP = 50
ANSWER_BUDGET_S = 0.2  # seconds of answering per processing step, so comments keep flowing
ENDED_KEPT = 16
#: ``lookup(user_ids) -> {user_id: (segment, traits)}`` for viewers with a built profile.
ProfileLookup = Callable[[list[str]], dict[str, tuple[str, tuple[str, ...]]]]


@dataclass
class LiveSession:
    session_id: str
    room: RoomState
    matcher: MentionMatcher
    answerer: Answerer
    stock: dict[str, int]
    queue: deque[RoomEvent] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ended: bool = False
    version: int = 0
    received: int = 0
    processed: int = 0
    current_product: str | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    recent_comments: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=30))
    profiles: ProfileLookup | None = None
    looked_up: set[str] = field(default_factory=set)


class LiveHub:
    """All live sessions of one process."""

    def __init__(
        self,
        model: ModelProvider | Callable[[], CommentModel],
        checker: ComplianceChecker | None = None,
        *,
        queue_cap: int = QUEUE_CAP,
        max_sessions: int = MAX_SESSIONS,
        embedder: Embedder | None = None,
    ):
        """``model``: a :class:`ModelProvider` (the service: never blocks) or a plain loader function;
        ``embedder``: sentence embeddings for smart Q&A (None: lexical matching only)."""
        self.models = model if isinstance(model, ModelProvider) else ModelProvider(model)
        self.checker, self.embedder = checker, embedder
        self.queue_cap, self.max_sessions = queue_cap, max_sessions
        self.sessions: dict[str, LiveSession] = {}
        self.drops: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    @property
    def model(self) -> CommentModel:
        """The comment model, or :class:`~liveloop.live.training.ModelUnavailable` while it is not ready."""
        return self.models.require()

    # -- sessions --------------------------------------------------------------------------------
    def open(
        self,
        session_id: str,
        lineup: list[dict[str, Any]] | None = None,
        kb: KnowledgeBase | None = None,
        profiles: ProfileLookup | None = None,
    ) -> LiveSession:
        """Open (or return the open) session; lineup dicts: product_id, name, aliases, price, cost, stock.

        ``profiles`` looks up the segments of viewers with a built profile (once per viewer).
        """
        with self._lock:
            existing = self.sessions.get(session_id)
            if existing is not None and not existing.ended:
                return existing
            if len([s for s in self.sessions.values() if not s.ended]) >= self.max_sessions:
                raise Conflict(f"too many open live sessions (limit {self.max_sessions})", field="session_id")
            lineup = lineup or []
            kb = kb or KnowledgeBase(products=lineup, policies=DEFAULT_POLICIES)
            session = LiveSession(
                session_id,
                RoomState(session_id, lineup),
                MentionMatcher.from_lineup(lineup),
                kb.answerer(self.checker, embedder=self.embedder),
                {str(p["product_id"]): int(p["stock"]) for p in lineup if p.get("stock") is not None},
                profiles=profiles,
            )
            self.sessions[session_id] = session
            self._evict_ended()
            return session

    def _evict_ended(self) -> None:
        ended = [k for k, s in self.sessions.items() if s.ended]
        for key in ended[: max(0, len(ended) - ENDED_KEPT)]:
            del self.sessions[key]

    def get(self, session_id: str) -> LiveSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise NotFound(f"no live session {session_id!r}: open it first", field="session_id")
        return session

    def end(self, session_id: str) -> dict[str, Any]:
        session = self.get(session_id)
        self.process(session)
        with session.lock:
            if session.queue:  # the model never became ready: what is left is dropped, and counted
                self.drops["model_unavailable"] += len(session.queue)
                session.queue.clear()
            session.ended = True
        return self.snapshot(session_id)

    # -- intake ----------------------------------------------------------------------------------
    def submit(self, session_id: str, raw_events: list[dict[str, Any]]) -> dict[str, int]:
        """Validate and enqueue events; beyond the queue's capacity they are dropped and counted."""
        if not isinstance(raw_events, list):
            raise ValidationFailed("events must be a list", field="events")
        if len(raw_events) > MAX_BATCH_REQUEST:
            raise ValidationFailed(f"at most {MAX_BATCH_REQUEST} events per request", field="events")
        session = self.sessions.get(session_id)
        if session is None:
            self.drops["unknown_session"] += len(raw_events)
            raise NotFound(f"no live session {session_id!r}: open it first", field="session_id")
        if session.ended:
            self.drops["ended_session"] += len(raw_events)
            raise Conflict(f"live session {session_id!r} has ended", field="session_id")
        now = time.monotonic()
        parsed = [parse_event(raw, i, now) for i, raw in enumerate(raw_events)]
        with session.lock:
            room = self.queue_cap - len(session.queue)
            accepted = parsed[: max(room, 0)]
            session.queue.extend(accepted)
            session.received += len(accepted)
        dropped = len(parsed) - len(accepted)
        if dropped:
            self.drops["queue_full"] += dropped
        self.counts["accepted"] += len(accepted)
        self._wake.set()
        return {"accepted": len(accepted), "dropped": dropped}

    # -- processing ------------------------------------------------------------------------------
    def process(self, session: LiveSession | None = None) -> int:
        """Drain queued events (all sessions, or one) in batches; returns how many were processed.

        While the comment model is not ready (being trained) events stay queued (bounded as ever).
        """
        if self.models.get() is None:
            return 0
        done = 0
        for s in [session] if session else list(self.sessions.values()):
            while s.queue:
                with s.lock:
                    batch = [s.queue.popleft() for _ in range(min(BATCH, len(s.queue)))]
                self._apply(s, batch)
                done += len(batch)
        return done

    def _lookup_profiles(
        self, s: LiveSession, batch: list[RoomEvent]
    ) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Segments of the batch's new viewers from their profiles (one query per batch, bounded)."""
        if s.profiles is None:
            return {}
        new = sorted({e.user_id for e in batch if e.user_id} - s.looked_up)
        room_left = MAX_PROFILE_LOOKUPS - len(s.looked_up)
        if len(new) > room_left:
            self.drops["profile_lookup_cap"] += len(new) - max(room_left, 0)
            new = new[: max(room_left, 0)]
        if not new:
            return {}
        s.looked_up.update(new)
        try:
            return s.profiles(new)
        except Exception:  # the room goes on without profiles for these viewers; counted
            self.drops["profile_lookup_error"] += len(new)
            return {}

    def _apply(self, s: LiveSession, batch: list[RoomEvent]) -> None:
        comments = [e for e in batch if e.type == "comment"]
        scores = self.model.analyze([e.text for e in comments], s.matcher) if comments else None
        found = self._lookup_profiles(s, batch)
        with s.lock:
            before = s.room.totals["question_groups"]
            s.room.apply(batch, scores)
            if found:
                self.counts["viewers_profiled"] += s.room.apply_profiles(found)
            if scores is not None:
                for k in range(max(0, len(comments) - s.recent_comments.maxlen), len(comments)):  # type: ignore[operator]
                    s.recent_comments.append(
                        {**scores.row(k), "user_id": comments[k].user_id, "ts": comments[k].ts}
                    )
            self._answer_new(s, before)
            for ev in batch:
                if ev.type == "click" and ev.product_id:
                    s.current_product = ev.product_id if ev.props.get("on_stage") else s.current_product
            now = time.monotonic()
            s.latencies.extend(now - e.received for e in comments[-200:])
            s.processed += len(batch)
            s.version += 1
        self.counts["processed"] += len(batch)
        self.counts["comments"] += len(comments)

    def _answer_new(self, s: LiveSession, before: int) -> None:
        """Answer unanswered question groups, most asked first, within a per-step count and time budget
        (an embedding costs tens of ms); the rest wait for the next step."""
        groups = [g for g in s.room.questions.values() if not g.answered and g.answer is None]
        groups.sort(key=lambda g: (len(g.askers), g.count), reverse=True)
        deadline = time.monotonic() + ANSWER_BUDGET_S
        for i, g in enumerate(groups[:ANSWERS_PER_STEP]):
            if i and time.monotonic() > deadline:
                self.counts["qa_deferred"] += len(groups) - i
                break
            result = s.answerer.answer(g.text, g.product_id)
            g.answer = result.to_dict()
            g.answered = result.status == "answered"
            self.counts[f"qa_{result.status}"] += 1

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self, session_id: str) -> dict[str, Any]:
        """Everything the Live Monitor shows, as JSON-ready data."""
        s = self.get(session_id)
        with s.lock:
            room = s.room
            lat = np.array(s.latencies) if s.latencies else np.zeros(1)
            return {
                "session_id": session_id,
                "ended": s.ended,
                "version": s.version,
                "now": room.now,
                "received": s.received,
                "processed": s.processed,
                "queued": len(s.queue),
                "viewers": room.viewer_count(),
                "windows": room.windows(),
                "sentiment_line": room.sentiment_line(),
                "product_heat": [
                    {"product_id": pid, "name": room.lineup.get(pid, {}).get("name", pid), **h}
                    for pid, h in room.product_heat().items()
                ],
                "questions": room.top_questions(10),
                "recent_questions": list(room.recent_questions)[-10:],
                "recent_comments": list(s.recent_comments)[-15:],
                "advisor": advisor.advise(room, s.stock, s.current_product),
                "human_queue": list(s.answerer.human_queue)[-10:],
                "drops": dict(room.drops),
                "totals": {k: v for k, v in room.totals.items()},
                "latency_p99_s": round(float(np.percentile(lat, 99)), 4),
                "model": self.models.status(),
            }

    def stats(self) -> dict[str, Any]:
        return {
            "sessions_open": sum(1 for s in self.sessions.values() if not s.ended),
            "queued": sum(len(s.queue) for s in self.sessions.values()),
            "drops": dict(self.drops),
            "counts": dict(self.counts),
            "room_drops": dict(sum((s.room.drops for s in self.sessions.values()), Counter())),
            "embeddings": self.embedder.stats() if self.embedder is not None else None,
        }

    # -- background worker -----------------------------------------------------------------------
    def start(self, interval: float = 0.05) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            try:
                self.models.get()  # load the model (or start training it) before the first batch arrives
            except Exception:
                self.drops["model_unavailable"] += 1
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                try:
                    self.process()
                except Exception:  # a bad batch must not stop the room; counted, never silent
                    self.drops["processing_error"] += 1

        self._worker = threading.Thread(target=loop, name="liveloop-live-hub", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None
