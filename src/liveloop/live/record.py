"""What a live room produces, kept in the warehouse as it happens (the data loop of the 全域 strategy).

The hub hands a :class:`RoomRecorder` the rows of each processed batch; the recorder's own thread
commits them about once a second, so the room never waits for the warehouse:

- room events (enters, likes, comments, gifts, follows, clicks, carts, purchases) into ``events``
  through the validated ingest path of ``POST /v1/events``, so profiles count live behaviour the same
  way (idempotent by ``event_id``);
- scored comments into ``comments`` (sentiment, intent, aspects, product mention);
- closed minutes into ``live_minutes``, question groups into ``live_questions`` (updated as they grow),
  new alerts into ``live_alerts``, lottery draws into ``live_draws``;
- at ``end``, the session summary into ``live_summaries`` (:mod:`liveloop.live.summary`).

Its queue is bounded: rows that do not fit are dropped and counted per kind (``/metrics``), a write
that fails is counted and logged; neither stops the room.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

log = logging.getLogger("liveloop.live")
#: Rows waiting to be written, all kinds together; beyond this they are dropped and counted.
MAX_PENDING = 200_000
FLUSH_S = 1.0
#: Rows per warehouse statement (an ingest call takes at most 10,000 records).
WRITE_BATCH = 10_000


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def event_id(session_id: str, fields: tuple[Any, ...], occurrence: int) -> str:
    """A stable id for a room event the client sent without one: the same event replayed maps to the same
    row; ``occurrence`` tells apart identical events of one batch (two likes in one second)."""
    digest = hashlib.sha1(repr((session_id, *fields, occurrence)).encode()).hexdigest()[:20]
    return f"live-{digest}"


def _insert(wh: Warehouse, table: str, rows: list[dict[str, Any]], verb: str, where: str = "") -> int:
    """``INSERT OR IGNORE`` / ``OR REPLACE`` of dict rows through one Arrow table (``v``), filtered by
    ``where``; rejects none."""
    if not rows:
        return 0
    data = pa.Table.from_pylist(rows)
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    view = f"_live_{threading.get_ident()}"
    with wh.transaction() as con:
        con.register(view, data)
        try:
            con.execute(f'INSERT OR {verb} INTO "{table}" ({cols}) SELECT {cols} FROM "{view}" v {where}')
        finally:
            con.unregister(view)
    return 0


#: A comment that arrived by import as well as live (same session, user, time and text) is kept once.
_NEW_COMMENT = (
    "WHERE NOT EXISTS (SELECT 1 FROM comments c WHERE c.session_id = v.session_id AND c.user_id = v.user_id "
    "AND c.text = v.text AND abs(epoch(c.ts) - epoch(v.ts)) < 0.001)"
)


def _events(wh: Warehouse, rows: list[dict[str, Any]]) -> int:
    """Room events through the validated ingest path of ``POST /v1/events``; how many it rejected."""
    from liveloop.ingest import ingest_records

    rejected = 0
    for i in range(0, len(rows), WRITE_BATCH):
        rejected += ingest_records(wh, "events", rows[i : i + WRITE_BATCH], source="live").rejected
    return rejected


#: How each kind of row is written (each returns how many rows it rejected).
def _answers(wh: Warehouse, rows: list[dict[str, Any]]) -> int:
    """Each smart answer (or hand-off) to a question group, audited: the askers can ask why."""
    entries = [
        AuditEntry(
            "live-copilot",
            QA_ACTION,
            f"session:{r['session_id']}",
            r["status"],
            r.get("reason"),
            {k: r.get(k) for k in ("question", "answer", "product_id", "confidence", "askers")},
        )
        for r in rows
    ]
    audit.write(wh, entries)
    return 0


#: The audit action of a smart answer; its explainer is registered in ``liveloop.live.qa``.
QA_ACTION = "live.qa.answer"

WRITERS: dict[str, Callable[[Warehouse, list[dict[str, Any]]], int]] = {
    "events": _events,
    "comments": lambda wh, rows: _insert(wh, "comments", rows, "IGNORE", _NEW_COMMENT),
    "minutes": lambda wh, rows: _insert(wh, "live_minutes", rows, "REPLACE"),
    "questions": lambda wh, rows: _insert(wh, "live_questions", rows, "REPLACE"),
    "alerts": lambda wh, rows: _insert(wh, "live_alerts", rows, "IGNORE"),
    "draws": lambda wh, rows: _insert(wh, "live_draws", rows, "IGNORE"),
    "summaries": lambda wh, rows: _insert(wh, "live_summaries", rows, "REPLACE"),
    "answers": _answers,
}


class RoomRecorder:
    """Buffers room rows and writes them from its own thread (bounded; drops and failures counted)."""

    def __init__(self, wh: Warehouse, *, max_pending: int = MAX_PENDING, flush_s: float = FLUSH_S):
        self.wh, self.max_pending, self.flush_s = wh, max_pending, flush_s
        self.pending: deque[tuple[str, dict[str, Any]]] = deque()
        self.written: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def put(self, kind: str, rows: list[dict[str, Any]]) -> None:
        """Queue rows of one kind (see :data:`WRITERS`); beyond the cap they are dropped and counted."""
        if not rows:
            return
        with self._lock:
            room = self.max_pending - len(self.pending)
            if room < len(rows):
                self.dropped[kind] += len(rows) - max(room, 0)
                rows = rows[: max(room, 0)]
            self.pending.extend((kind, r) for r in rows)
        self._ensure_thread()

    def flush(self) -> None:
        """Write everything queued now, on the caller's thread (end of a session, tests, shutdown)."""
        with self._write_lock:
            with self._lock:
                batch = list(self.pending)
                self.pending.clear()
            groups: dict[str, list[dict[str, Any]]] = {}
            for kind, row in batch:
                groups.setdefault(kind, []).append(row)
            for kind in WRITERS:  # a fixed order: events before the summaries that count them
                rows = groups.get(kind)
                if not rows:
                    continue
                try:
                    rejected = WRITERS[kind](self.wh, rows)
                    self.written[kind] += len(rows) - rejected
                    if rejected:
                        self.dropped[f"{kind}_rejected"] += rejected
                except Exception as exc:  # the room goes on; counted and logged, never silent
                    self.failed[kind] += len(rows)
                    log.error("writing %d live %s rows failed: %s", len(rows), kind, exc)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.flush_s)
                self._wake.clear()
                self.flush()

        self._thread = threading.Thread(target=loop, name="liveloop-live-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writer thread after writing what is queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def stats(self) -> dict[str, Any]:
        return {
            "pending": len(self.pending),
            "written": dict(self.written),
            "dropped": dict(self.dropped),
            "failed": dict(self.failed),
        }


def _explain_answer(_user: str, decision: str | None, _reason: str | None, details: Any, lang: str) -> str:
    d = details or {}
    question, answer = str(d.get("question") or ""), d.get("answer")
    if lang == "zh":
        if decision == "answered":
            return f"直播助手自动回答了你的问题「{question}」：{answer}"
        return f"你的问题「{question}」已转交主播或客服人工回答（自动回答把握不足）"
    if decision == "answered":
        return f"the live assistant answered your question “{question}”: {answer}"
    return f"your question “{question}” was handed to the host or an agent (not sure enough to answer)"


audit.register_explainer(QA_ACTION, _explain_answer, names_users_in_details=True)
