"""Live copilot API: open a session, send comments and room events (HTTP batch or WebSocket), read the
room state, ask the FAQ answerer, run the lottery, score comments. Logic lives in ``liveloop.live``."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.api.metrics import REGISTRY
from liveloop.core.errors import LiveloopError, PermissionDenied
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.live import service, sessions
from liveloop.live.hub import MAX_BATCH_REQUEST, LiveHub
from liveloop.live.lottery import LotteryRules
from liveloop.privacy.keys import Principal, verifier_for
from liveloop.warehouse import Warehouse

READ = (Role.HOST, Role.ANALYST, Role.MARKETER)
WRITE = (Role.HOST, Role.INGEST)
router = APIRouter(prefix="/v1", tags=["live"])
_HUBS: weakref.WeakSet[LiveHub] = weakref.WeakSet()
PUSH_INTERVAL = 0.25
#: How often an open stream re-checks that its key is still valid (a revoked key's stream is closed).
KEY_RECHECK_S = 2.0


def hub_of(app: Any) -> LiveHub:
    """The app's live hub (created and started on first use)."""
    hub: LiveHub | None = getattr(app.state, "live_hub", None)
    if hub is None:
        from liveloop.content import default_checker
        from liveloop.live.embeddings import get_embedder
        from liveloop.live.record import RoomRecorder
        from liveloop.live.training import ModelProvider

        settings = app.state.settings
        hub = LiveHub(
            ModelProvider(settings=settings, train_if_missing=settings.nlp_autotrain),
            default_checker(settings),
            embedder=get_embedder(),
            recorder=RoomRecorder(app.state.warehouse),
        )
        hub.start()
        app.state.live_hub = hub
        _HUBS.add(hub)
    return hub


class _LiveCollector:
    """Live-room counters for /metrics, read at scrape time (drops by reason, queue depth, sessions)."""

    def collect(self) -> Iterator[Any]:
        drops = CounterMetricFamily(
            "liveloop_live_dropped", "Live events dropped, by reason.", labels=["reason"]
        )
        processed = CounterMetricFamily("liveloop_live_processed", "Live events processed.")
        queued = GaugeMetricFamily("liveloop_live_queue_depth", "Live events waiting to be processed.")
        sessions = GaugeMetricFamily("liveloop_live_sessions_open", "Open live sessions.")
        totals: dict[str, float] = {}
        n_processed = n_queued = n_open = 0
        for hub in list(_HUBS):
            stats = hub.stats()
            for reason, n in {**stats["drops"], **stats["room_drops"]}.items():
                totals[reason] = totals.get(reason, 0) + n
            n_processed += stats["counts"].get("processed", 0)
            n_queued += stats["queued"]
            n_open += stats["sessions_open"]
        for hub in list(_HUBS):
            recorder = hub.stats()["recorder"] or {}
            for kind, n in recorder.get("dropped", {}).items():
                totals[f"recorder_{kind}"] = totals.get(f"recorder_{kind}", 0) + n
            for kind, n in recorder.get("failed", {}).items():
                totals[f"recorder_failed_{kind}"] = totals.get(f"recorder_failed_{kind}", 0) + n
        for reason in ("queue_full", "unknown_session", "ended_session", *sorted(totals)):
            if reason not in totals:
                totals[reason] = 0
        for reason in sorted(totals):
            drops.add_metric([reason], totals[reason])
        processed.add_metric([], n_processed)
        queued.add_metric([], n_queued)
        sessions.add_metric([], n_open)
        yield from (drops, processed, queued, sessions)


if not getattr(REGISTRY, "_liveloop_live_collector", False):
    REGISTRY.register(_LiveCollector())
    REGISTRY._liveloop_live_collector = True  # type: ignore[attr-defined]


class LineupItem(BaseModel):
    """One product of a session's lineup (position = list order, for "3号链接" mentions)."""

    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(pattern=ID_PATTERN, max_length=128)
    name: str = Field("", max_length=500)
    aliases: list[str] = Field(default_factory=list, max_length=50)
    price: float | None = Field(None, ge=0)
    cost: float | None = Field(None, ge=0)
    stock: int | None = Field(None, ge=0)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class FaqEntry(BaseModel):
    """A question and its answer, optionally about one product."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=5000)
    product_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)


def _dicts(items: list[LineupItem] | list[FaqEntry] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [i.model_dump(exclude_none=True) for i in items]


class OpenSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lineup: list[LineupItem] = Field(default_factory=list, max_length=500)
    faqs: list[FaqEntry] = Field(default_factory=list, max_length=5000)
    policies: list[FaqEntry] | None = Field(
        None, max_length=500, description="question, answer (default: standard shop policies)"
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH_REQUEST,
        description="type, ts, user_id, text, product_id, amount, quantity, count",
    )


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=2000)
    product_id: str | None = None


class LotteryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = Field(ge=0, le=2**63 - 1)
    winners: int = Field(3, ge=1, le=1000)
    min_watch_minutes: float = Field(5.0, ge=0)
    min_engagement: int = Field(1, ge=0)
    prizes: dict[str, str] = Field(default_factory=dict, description="interest segment -> prize kind")
    default_prize: str = "直播间定制礼品 (room gift)"


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, max_length=10_000)
    lineup: list[LineupItem] = Field(default_factory=list, max_length=500)


@router.post(
    "/live/{session_id}/open",
    summary="Open a live session (lineup from the body or the warehouse)",
    dependencies=[Depends(require_roles(*WRITE))],
)
async def open_live(
    session_id: str, body: OpenSession, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    hub = hub_of(request.app)
    s = await run_in_threadpool(
        service.open_session,
        hub,
        wh,
        session_id,
        _dicts(body.lineup),
        _dicts(body.faqs),
        _dicts(body.policies),
    )
    return {"session_id": s.session_id, "lineup": list(s.room.lineup), "ended": s.ended}


@router.post(
    "/live/{session_id}/events",
    summary="Send comments and room events (batch)",
    dependencies=[Depends(require_roles(*WRITE))],
)
async def post_events(
    session_id: str, body: EventBatch, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(service.ingest, hub_of(request.app), wh, session_id, body.events)


@router.get(
    "/live/{session_id}/state",
    summary="The room state: windows, heat, questions, advice, alerts",
    dependencies=[Depends(require_roles(*READ))],
)
async def live_state(session_id: str, request: Request) -> dict[str, Any]:
    return await run_in_threadpool(hub_of(request.app).snapshot, session_id)


@router.post(
    "/live/{session_id}/end",
    summary="End a live session: its summary and room data are written to the warehouse",
    dependencies=[Depends(require_roles(Role.HOST))],
)
async def end_live(
    session_id: str, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(service.end_session, hub_of(request.app), wh, session_id)


@router.get(
    "/live/sessions",
    summary="Live sessions: live now, finished (with their figures), scheduled",
    dependencies=[Depends(require_roles(*READ))],
)
async def list_live_sessions(
    request: Request,
    status: str = Query("all", description="live | ended | scheduled | all"),
    limit: int = Query(50, ge=1, le=sessions.MAX_LIMIT),
    offset: int = Query(0, ge=0),
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    hub = hub_of(request.app)
    live = [k for k, s in hub.sessions.items() if not s.ended]
    return await run_in_threadpool(
        sessions.list_sessions, wh, live=live, status=status, limit=limit, offset=offset
    )


@router.get(
    "/live/{session_id}/summary",
    summary="A finished session from the warehouse: summary, minutes, questions, alerts, draws",
    dependencies=[Depends(require_roles(*READ))],
)
async def live_summary(session_id: str, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(sessions.finished, wh, session_id)


@router.post(
    "/live/{session_id}/ask",
    summary="Answer a viewer question from the knowledge base",
    dependencies=[Depends(require_roles(Role.HOST))],
)
async def ask(session_id: str, body: Question, request: Request) -> dict[str, Any]:
    return await run_in_threadpool(
        service.ask, hub_of(request.app), session_id, body.question, body.product_id
    )


@router.post(
    "/live/{session_id}/lottery",
    summary="Seeded, audited lottery among eligible viewers",
    dependencies=[Depends(require_roles(Role.HOST))],
)
async def lottery(
    session_id: str, body: LotteryRequest, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    rules = LotteryRules(
        body.winners, body.min_watch_minutes, body.min_engagement, body.prizes, body.default_prize
    )
    actor = principal_of(request).name
    return await run_in_threadpool(
        service.run_lottery, hub_of(request.app), wh, session_id, rules, body.seed, actor
    )


@router.post(
    "/nlp/score",
    summary="Score comments: sentiment, intent, aspects, product mention",
    dependencies=[Depends(require_roles(*READ))],
)
async def score(body: ScoreRequest, request: Request) -> dict[str, Any]:
    from liveloop.live.mentions import MentionMatcher

    hub = hub_of(request.app)
    matcher = MentionMatcher.from_lineup(_dicts(body.lineup) or []) if body.lineup else None
    scores = await run_in_threadpool(lambda: hub.model.analyze(body.texts, matcher))
    return {"results": [scores.row(i) for i in range(len(scores))]}


async def _push_state(ws: WebSocket, hub: LiveHub, session_id: str, sent_version: int) -> int:
    """Send the room's snapshot if it changed since ``sent_version`` (or that it has not opened yet)."""
    session = hub.sessions.get(session_id)
    if session is None:
        if sent_version == -1:
            await ws.send_json({"type": "waiting", "session_id": session_id})
        return -2
    if session.version != sent_version:
        snap = await run_in_threadpool(hub.snapshot, session_id)
        await ws.send_json({"type": "state", **snap})
        return int(snap["version"])
    return sent_version


@router.websocket("/live/{session_id}/stream", dependencies=[Depends(require_roles(*READ, *WRITE))])
async def stream(ws: WebSocket, session_id: str) -> None:
    """Pushes the room snapshot whenever it changes to the roles that may read it (as ``/state``);
    accepts ``{"events": [...]}`` from host/ingest roles; closes (4401) once the key is revoked."""
    principal: Principal = ws.state.principal  # set by require_roles, which refused others before accept
    await ws.accept()
    hub = hub_of(ws.app)
    wh = ws.app.state.warehouse
    can_write = principal.role in {*WRITE, Role.ADMIN}
    can_read = principal.role in {*READ, Role.ADMIN}
    sent_version = -1
    loop = asyncio.get_running_loop()
    checked = loop.time()

    async def receive() -> None:
        while True:
            message = await ws.receive_text()
            try:
                if not can_write:
                    raise PermissionDenied("this role may only watch")
                data = json.loads(message) if len(message) <= 4_000_000 else None
                events = data.get("events") if isinstance(data, dict) else None
                result = await run_in_threadpool(
                    service.ingest,
                    hub,
                    ws.app.state.warehouse,
                    session_id,
                    events if isinstance(events, list) else [{}],
                )
                await ws.send_json({"type": "ack", **result})
            except ValueError:
                await ws.send_json(
                    {"type": "error", "status": 422, "detail": "message must be JSON", "field": "events"}
                )
            except LiveloopError as exc:
                await ws.send_json({"type": "error", **exc.problem()})

    receiver = asyncio.create_task(receive())
    try:
        while not receiver.done():
            if loop.time() - checked >= KEY_RECHECK_S:
                checked = loop.time()
                if await run_in_threadpool(verifier_for(wh).active, wh, principal.key_id) is None:
                    await ws.close(code=4401, reason="the key has been revoked")
                    break
            if can_read:
                sent_version = await _push_state(ws, hub, session_id, sent_version)
            await asyncio.wait({receiver}, timeout=PUSH_INTERVAL)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
