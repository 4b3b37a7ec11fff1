"""The session summary written at ``end`` (直播复盘): what the room did, minute by minute and per product."""

from __future__ import annotations

from typing import Any

from liveloop.live.room import RoomState


def summarize(
    room: RoomState,
    *,
    alerts: list[dict[str, Any]],
    answered: int,
    handed_off: int,
    model: str | None = None,
) -> dict[str, Any]:
    """GMV, viewers (peak and average over minutes), comments per minute, the sentiment curve, top
    questions, per-product clicks and sales (all and while on stage), alerts raised and drops."""
    curve = list(room.curve)
    viewers = [m["viewers"] for m in curve if m["viewers"] is not None]
    scored = [m for m in curve if m["sentiment_index"] is not None]
    comments = room.totals["comment"]
    minutes = max(len(curve), 1)
    start = room.first_ts
    weighted = sum(m["sentiment_index"] * m["comments"] for m in scored)
    n_scored = sum(m["comments"] for m in scored)
    return {
        "session_id": room.session_id,
        "start_ts": start,
        "end_ts": room.now if start is not None else None,
        "minutes": len(curve),
        "gmv": room.totals["gmv_cents"] / 100,
        "orders": room.totals["purchase"],
        "units": sum(room.sold.values()),
        "gift_value": room.totals["gift_value"] / 100,
        "peak_viewers": max(viewers, default=0),
        "avg_viewers": round(sum(viewers) / len(viewers), 1) if viewers else 0.0,
        "comments": comments,
        "comments_per_min": round(comments / minutes, 1),
        "likes": room.totals["like"],
        "enters": room.totals["enter"],
        "follows": room.totals["follow"],
        "gifts": room.totals["gift"],
        "sentiment": {
            "index": round(weighted / n_scored, 1) if n_scored else 0.0,
            "positive": sum(m["positive"] for m in curve),
            "negative": sum(m["negative"] for m in curve),
            "neutral": sum(m["neutral"] for m in curve),
        },
        "curve": [
            {k: m[k] for k in ("minute", "viewers", "comments", "sentiment_index", "questions", "gmv")}
            for m in curve
        ],
        "questions": {
            "groups": room.totals["question_groups"],
            "answered": answered,
            "handed_off": handed_off,
            "top": room.top_questions(10),
        },
        "products": room.product_totals(),
        "alerts": alerts,
        "drops": dict(room.drops),
        "model": model,
    }
