"""The live copilot's part of the demo: score the warehouse's comments, replay its busiest session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from liveloop.content import default_checker
from liveloop.core.config import Settings
from liveloop.live import service
from liveloop.live.embeddings import get_embedder
from liveloop.live.events import EVENT_TYPES
from liveloop.live.hub import BATCH, LiveHub
from liveloop.live.record import RoomRecorder
from liveloop.live.training import Progress, ensure_model, load_model

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse


def score_comments(wh: Warehouse, settings: Settings | None = None, chunk: int = 50_000) -> int:
    """Fill the NLP columns of ``comments`` rows that have none yet (sentiment, intent, aspects, mention)."""
    model = load_model(settings)
    done = 0
    while True:
        rows = wh.sql("SELECT comment_id, text FROM comments WHERE sentiment IS NULL LIMIT ?", [chunk])
        if not rows:
            return done
        scores = model.analyze([r[1] for r in rows])
        table = pa.table(
            {
                "comment_id": [r[0] for r in rows],
                "lang": scores.lang,
                "sentiment": list(scores.sentiment),
                "sentiment_score": scores.sentiment_score.astype(float),
                "intent": list(scores.intent),
                "aspects": scores.aspects,
            }
        )
        with wh.transaction() as con:
            con.register("_scored", table)
            try:
                con.execute(
                    "UPDATE comments SET lang = s.lang, sentiment = s.sentiment, "
                    "sentiment_score = s.sentiment_score, intent = s.intent, aspects = s.aspects "
                    "FROM _scored s WHERE comments.comment_id = s.comment_id"
                )
            finally:
                con.unregister("_scored")
        done += len(rows)


def stage_events(wh: Warehouse, session_id: str) -> list[dict[str, Any]]:
    """When each lineup product went on stage, from the session's slot schedule (the simulator's
    ``props.slot_seconds``): one ``stage`` event per slot, so "这个多少钱" means the product presented."""
    rows = wh.sql(
        "SELECT epoch(start_ts), lineup, json_extract(props, '$.slot_seconds')::DOUBLE FROM live_sessions "
        "WHERE session_id = ?",
        [session_id],
    )
    if not rows or rows[0][0] is None or not rows[0][1] or not rows[0][2]:
        return []
    start, lineup, slot = rows[0]
    return [{"type": "stage", "ts": start + i * slot, "product_id": pid} for i, pid in enumerate(lineup)]


def replay_busiest_session(wh: Warehouse, settings: Settings | None = None) -> dict[str, Any]:
    """Replay the simulated session with the most comments through the copilot, keeping the room's data
    in the warehouse (comments, minutes, questions, alerts, the summary); a summary of the room."""
    top = wh.sql(
        "SELECT session_id, count(*) AS n FROM events WHERE type = 'comment' AND session_id IS NOT NULL "
        "GROUP BY 1 ORDER BY n DESC, session_id LIMIT 1"
    )
    if not top:
        return {"replayed": 0, "reason": "no live comments in the warehouse"}
    session_id = str(top[0][0])
    kinds = sorted(EVENT_TYPES)
    rows = wh.sql(
        "SELECT event_id, epoch(ts), user_id, type, product_id, CAST(amount AS DOUBLE), quantity, text "
        "FROM events WHERE session_id = ? AND type IN (SELECT unnest(?::VARCHAR[])) ORDER BY ts",
        [session_id, kinds],
    )
    events = [
        {
            "event_id": r[0],
            "ts": r[1],
            "user_id": r[2],
            "type": r[3],
            "product_id": r[4],
            "amount": r[5] or 0.0,
            "quantity": r[6] or 1,
            "text": r[7] or "",
        }
        for r in rows
    ]
    events = sorted([*events, *stage_events(wh, session_id)], key=lambda e: e["ts"])
    hub = LiveHub(
        lambda: load_model(settings),
        default_checker(settings),
        embedder=get_embedder(),
        recorder=RoomRecorder(wh),
    )
    service.open_session(hub, wh, session_id)
    for i in range(0, len(events), BATCH):
        hub.submit(session_id, events[i : i + BATCH])
        hub.process()
    snap = service.end_session(hub, wh, session_id)
    hub.stop()
    five = snap["windows"]["5min"]
    summary = snap["summary"] or {}
    return {
        "session_id": session_id,
        "replayed": snap["processed"],
        "comments": snap["totals"].get("comment", 0),
        "gmv": summary.get("gmv"),
        "peak_viewers": summary.get("peak_viewers"),
        "last_5min_sentiment_index": five["sentiment_index"],
        "top_question": (snap["questions"][0]["text"] if snap["questions"] else None),
        "next_product": (
            snap["advisor"]["next_products"][0]["name"] if snap["advisor"]["next_products"] else None
        ),
        "alerts": [a["kind"] for a in snap["advisor"]["alerts"]],
    }


def model_step(settings: Settings | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The demo's "comment model" step: train it on the real corpora when there is none (1–2 minutes)."""
    return {"comment_model": ensure_model(settings, progress=progress)}


def demo_step(
    wh: Warehouse, settings: Settings | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Score the demo world's comments and replay its busiest live session (training the model first)."""
    model = model_step(settings, progress)
    return {**model, "comments_scored": score_comments(wh, settings), **replay_busiest_session(wh, settings)}
