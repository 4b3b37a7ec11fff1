"""The live hub: sessions, bounded intake queues, batched processing and snapshots for the faces.

Producers (HTTP batches, the WebSocket, a replay) call :meth:`LiveHub.submit`; a worker thread drains
each session's queue in batches (one NLP pass per batch), updates the room state, answers new
questions and bumps the session's version. Queues, sessions and every per-room structure are
capped; what does not fit is dropped and counted (exposed on /metrics by the API face).
"""

from __future__ import annotations

import json
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
from liveloop.live.events import WAREHOUSE_TYPES, RoomEvent, parse_event
from liveloop.live.mentions import MentionMatcher
from liveloop.live.nlp import CommentModel
from liveloop.live.qa import DEFAULT_POLICIES, Answerer, KnowledgeBase
from liveloop.live.record import RoomRecorder, event_id, utc
from liveloop.live.room import RoomState
from liveloop.live.summary import summarize
from liveloop.live.training import ModelProvider
from liveloop.privacy.rights import register_forgetter
from liveloop.warehouse.artifacts import replace_strings

QUEUE_CAP = 50_000  # events waiting per session
BATCH = 5_000  # events per processing step
MAX_SESSIONS = 64
MAX_BATCH_REQUEST = 5_000  # events in one HTTP/WebSocket message
MAX_PROFILE_LOOKUPS = 200_000  # viewers per session whose profile is looked up
ANSWERS_PER_STEP = 50
ANSWER_BUDGET_S = 0.2  # seconds of answering per processing step, so comments keep flowing
ENDED_KEPT = 16
QUESTIONS_WRITE_S = 5.0  # how often a room's question groups are written while it runs
MAX_ALERTS = 500  # alerts remembered per session (for its summary)
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
    lock: threading.Lock = field(default_factory=threading.Lock)  # the room state and the queue
    busy: threading.Lock = field(default_factory=threading.Lock)  # held while batches are applied (outer)
    ended: bool = False
    version: int = 0
    received: int = 0
    processed: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    recent_comments: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=30))
    profiles: ProfileLookup | None = None
    looked_up: set[str] = field(default_factory=set)
    alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # raised, first time each
    questions_written: float = 0.0
    summary: dict[str, Any] | None = None


def stock_left(s: LiveSession) -> dict[str, int]:
    """Units left per lineup product with a known stock (the lineup's stock less what sold)."""
    return {pid: max(n - s.room.sold[pid], 0) for pid, n in s.stock.items()}


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
        recorder: RoomRecorder | None = None,
    ):
        """``model``: a :class:`ModelProvider` (the service: never blocks) or a plain loader function;
        ``embedder``: sentence embeddings for smart Q&A (None: lexical matching only); ``recorder``: keeps
        what the rooms produce in the warehouse (None: nothing outlives the process)."""
        self.models = model if isinstance(model, ModelProvider) else ModelProvider(model)
        self.checker, self.embedder, self.recorder = checker, embedder, recorder
        self.queue_cap, self.max_sessions = queue_cap, max_sessions
        self.sessions: dict[str, LiveSession] = {}
        self.drops: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        register_forgetter(self._erase)

    def _erase(self, user_id: str, pseudonym: str) -> None:
        """An erasure: no open room keeps the user's id (viewers, askers, recent comments, queued events)."""
        with self._lock:
            sessions = list(self.sessions.values())
        for s in sessions:
            with s.lock:
                for name in ("room", "queue", "recent_comments", "looked_up", "alerts", "summary"):
                    object.__setattr__(s, name, replace_strings(getattr(s, name), user_id, pseudonym))

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
        """End the session: process what is queued, close its last minute, write its summary and everything
        still pending to the warehouse (before returning), and refuse later events."""
        session = self.get(session_id)
        with session.busy:  # a batch the worker took is applied before the session closes
            if self.models.get() is not None:
                self._drain(session)
            self._close(session)
        if self.recorder is not None:
            self.recorder.flush()
        return {**self.snapshot(session_id), "summary": session.summary}

    def _close(self, session: LiveSession) -> None:
        with session.lock:
            if session.queue:  # the model never became ready: what is left is dropped, and counted
                self.drops["model_unavailable"] += len(session.queue)
                session.queue.clear()
            if not session.ended:
                if self.models.get() is not None:
                    self._answer_new(session, 0, budget=False)  # no question of the session left pending
                session.room.finish()
                self._record_state(session, final=True)
                session.summary = summarize(
                    session.room,
                    alerts=list(session.alerts.values()),
                    answered=sum(1 for g in session.room.questions.values() if g.answered),
                    handed_off=sum(1 for g in session.room.questions.values() if g.answer and not g.answered),
                    model=self.models.version(),
                )
                if self.recorder is not None:
                    self.recorder.put("summaries", [self._summary_row(session.summary)])
            session.ended = True

    @staticmethod
    def _summary_row(summary: dict[str, Any]) -> dict[str, Any]:
        start, end = summary["start_ts"], summary["end_ts"]
        return {
            "session_id": summary["session_id"],
            "start_ts": utc(start) if start is not None else None,
            "end_ts": utc(end) if end is not None else None,
            "summary": json.dumps(summary, ensure_ascii=False, default=str),
        }

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
            with s.busy:
                done += self._drain(s)
        return done

    def _drain(self, s: LiveSession) -> int:
        """Apply the session's queued events batch by batch (the caller holds ``s.busy``)."""
        done = 0
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
            self._raise_alerts(s)
            if self.recorder is not None:
                self._record_batch(s, batch, comments, scores)
                self._record_state(s)
            now = time.monotonic()
            s.latencies.extend(now - e.received for e in comments[-200:])
            s.processed += len(batch)
            s.version += 1
        self.counts["processed"] += len(batch)
        self.counts["comments"] += len(comments)

    def _raise_alerts(self, s: LiveSession) -> None:
        """Remember each alert the first time it is raised (kind and subject), with the room time."""
        for alert in advisor.alerts(s.room, s.stock):
            key = (alert["kind"], str(alert.get("subject", "")))
            if key in s.alerts:
                continue
            if len(s.alerts) >= MAX_ALERTS:
                self.drops["alert_cap"] += 1
                return
            s.alerts[key] = {**alert, "ts": s.room.now}
            if self.recorder is not None:
                self.recorder.put(
                    "alerts",
                    [
                        {
                            "session_id": s.session_id,
                            "ts": utc(s.room.now),
                            "kind": alert["kind"],
                            "subject": key[1],
                            "severity": alert["severity"],
                            "message": alert["message"],
                        }
                    ],
                )

    def _record_batch(
        self, s: LiveSession, batch: list[RoomEvent], comments: list[RoomEvent], scores: Any
    ) -> None:
        """The batch's user events (to ``events``) and scored comments (to ``comments``)."""
        assert self.recorder is not None
        events, ids, seen = [], {}, Counter[tuple[Any, ...]]()
        for ev in batch:
            kind = WAREHOUSE_TYPES.get(ev.type)
            if kind is None or not ev.user_id:
                continue
            fields = (ev.ts, ev.user_id, ev.type, ev.text, ev.product_id, ev.amount, ev.quantity, ev.count)
            seen[fields] += 1
            eid = ev.event_id or event_id(s.session_id, fields, seen[fields])
            ids[id(ev)] = eid
            row: dict[str, Any] = {
                "event_id": eid,
                "ts": ev.ts,
                "user_id": ev.user_id,
                "type": kind,
                "session_id": s.session_id,
                "channel": "live",
            }
            if ev.product_id:
                row["product_id"] = ev.product_id
            if kind in ("gift", "purchase") and ev.amount:
                row["amount"] = round(ev.amount, 2)
            if kind == "purchase":
                row["quantity"] = max(ev.quantity, 1)
            if kind == "comment":
                row["text"] = ev.text[:2000]
            events.append(row)
        self.recorder.put("events", events)
        if scores is None:
            return
        rows = []
        for k, ev in enumerate(comments):
            comment_id = ids.get(id(ev))
            if comment_id is None:  # an anonymous comment: counted in the room, not a user's event
                continue
            rows.append(
                {
                    "comment_id": comment_id,
                    "session_id": s.session_id,
                    "user_id": ev.user_id,
                    "ts": utc(ev.ts),
                    "text": ev.text[:2000] or " ",
                    "lang": scores.lang[k],
                    "sentiment": str(scores.sentiment[k]),
                    "sentiment_score": float(scores.sentiment_score[k]),
                    "intent": str(scores.intent[k]),
                    "aspects": list(scores.aspects[k]),
                    "product_mention": scores.product_mention[k] or ev.product_id,
                    "source": "live",
                }
            )
        self.recorder.put("comments", rows)

    def _record_state(self, s: LiveSession, final: bool = False) -> None:
        """Closed minutes, and the question groups every few seconds (and at the end)."""
        if self.recorder is None:
            return
        minutes = []
        while s.room.minutes:
            m = s.room.minutes.popleft()
            minutes.append({**m, "session_id": s.session_id, "minute": utc(m["minute"])})
        self.recorder.put("minutes", minutes)
        now = time.monotonic()
        if not final and now - s.questions_written < QUESTIONS_WRITE_S:
            return
        s.questions_written = now
        rows = []
        for key, g in s.room.questions.items():
            answer = g.answer or {}
            rows.append(
                {
                    "session_id": s.session_id,
                    "group_id": key,
                    "text": g.text,
                    "intent": g.intent,
                    "product_id": g.product_id,
                    "asks": g.count,
                    "askers": len(g.askers),
                    "first_ts": utc(g.first_ts),
                    "last_ts": utc(g.last_ts),
                    "status": answer.get("status") or "pending",
                    "answer": answer.get("answer"),
                    "confidence": answer.get("confidence"),
                    "entry_id": answer.get("entry_id"),
                    "reason": answer.get("reason"),
                }
            )
        self.recorder.put("questions", rows)

    def _answer_new(self, s: LiveSession, before: int, *, budget: bool = True) -> None:
        """Answer unanswered question groups, most asked first, within a per-step count and time budget
        (an embedding costs tens of ms); the rest wait for the next step (at the end: all of them)."""
        groups = [g for g in s.room.questions.values() if not g.answered and g.answer is None]
        groups.sort(key=lambda g: (len(g.askers), g.count), reverse=True)
        deadline = time.monotonic() + ANSWER_BUDGET_S
        for i, g in enumerate(groups[:ANSWERS_PER_STEP] if budget else groups):
            if budget and i and time.monotonic() > deadline:
                self.counts["qa_deferred"] += len(groups) - i
                break
            result = s.answerer.answer(g.text, g.product_id, on_stage=s.room.on_stage, stock=stock_left(s))
            g.answer = result.to_dict()
            g.answered = result.status == "answered"
            self.counts[f"qa_{result.status}"] += 1
            if self.recorder is not None:  # an automated decision: audited, explainable to each asker
                askers = sorted(g.askers)[:100]
                self.recorder.put(
                    "answers",
                    [g.answer | {"session_id": s.session_id, "product_id": g.product_id, "askers": askers}],
                )

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
                "on_stage": room.on_stage,
                "advisor": advisor.advise(room, s.stock, room.on_stage),
                "stock_left": stock_left(s),
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
            "recorder": self.recorder.stats() if self.recorder is not None else None,
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
        if self.recorder is not None:
            self.recorder.close()
