"""Live rooms: which room to show a user now (live now, then upcoming previews) and which product to pin.

A room's score = timing x (interest + host affinity): timing is 1 for a room live now and decays with
the hours until an upcoming room starts; interest is the user's best personal score over the room's
lineup; host affinity is the user's share of past room activity with that host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from liveloop.core.errors import NotFound
from liveloop.recommend.explain import reason
from liveloop.recommend.rules import live_sessions
from liveloop.recommend.service import RecommendService

ROOM_EVENTS = ("enter_room", "like", "comment", "share", "follow", "gift")


def host_affinity(wh: Any, user_id: str) -> dict[str, float]:
    rows = wh.sql(
        f"SELECT s.host_id, count(*) FROM events e JOIN live_sessions s USING (session_id) "
        f"WHERE e.user_id = ? AND e.type IN ({', '.join('?' * len(ROOM_EVENTS))}) GROUP BY 1",
        [user_id, *ROOM_EVENTS],
    )
    total = sum(r[1] for r in rows) or 1
    return {r[0]: r[1] / total for r in rows}


def expected_viewers(wh: Any, session_id: str, size: int) -> tuple[str, list[Any]]:
    """The users a session is expected to draw, as SQL selecting ``user_id`` and ``score`` (best first):
    interest in the lineup's categories (profile tags) + 2 × affinity with the session's host."""
    found = wh.sql("SELECT host_id, lineup FROM live_sessions WHERE session_id = ?", [session_id])
    if not found:
        raise NotFound(f"live session {session_id!r} is unknown", field="live_session")
    host, lineup = found[0]
    query = (
        "WITH cats AS (SELECT DISTINCT 'category:' || category AS tag FROM products "
        "WHERE list_contains(?::VARCHAR[], product_id) AND category IS NOT NULL), "
        "room AS (SELECT e.user_id, count(*) FILTER (WHERE s.host_id = ?) / count(*) AS affinity "
        "FROM events e JOIN live_sessions s USING (session_id) "
        "WHERE e.type IN ('enter_room', 'like', 'comment', 'share', 'follow', 'gift') GROUP BY e.user_id), "
        "interest AS (SELECT p.user_id, count(c.tag) AS matched FROM profiles p, cats c "
        "WHERE list_contains(p.tags, c.tag) GROUP BY p.user_id) "
        "SELECT user_id, coalesce(i.matched, 0) + 2 * coalesce(r.affinity, 0) AS score "
        "FROM interest i FULL JOIN room r USING (user_id) WHERE user_id IN (SELECT user_id FROM profiles) "
        "AND coalesce(i.matched, 0) + 2 * coalesce(r.affinity, 0) > 0 ORDER BY score DESC, user_id LIMIT ?"
    )
    return query, [list(lineup or []), host, size]


def rooms_for_user(
    svc: RecommendService, user_id: str, *, k: int = 5, now: datetime | None = None, horizon_h: float = 24.0
) -> list[dict[str, Any]]:
    """Rooms to show ``user_id`` now, best first, each with its reason."""
    now = now or datetime.now(UTC)
    opted_out = user_id in svc.snapshot().opted_out
    scores = svc.interest_scores(user_id)  # empty when opted out (no personal data used)
    affinity = {} if opted_out else host_affinity(svc.wh, user_id)
    out = []
    for room in live_sessions(svc.wh, now):
        hours = 0.0 if room["live_now"] else (room["start_ts"] - now).total_seconds() / 3600
        if hours > horizon_h:
            continue
        timing = 1.0 if room["live_now"] else 0.5 * 0.9**hours
        interest = max((scores.get(p, 0.0) for p in room["lineup"]), default=0.0)
        score = timing * (1.0 + interest + 2.0 * affinity.get(room["host_id"], 0.0))
        why = reason("live_now") if room["live_now"] else reason("trending")
        if affinity.get(room["host_id"]):
            why = {**why, "host_affinity": round(affinity[room["host_id"]], 3)}
        out.append(
            {
                "session_id": room["session_id"],
                "host_id": room["host_id"],
                "title": room["title"],
                "live_now": room["live_now"],
                "start_ts": room["start_ts"],
                "score": round(score, 4),
                "reason": why,
            }
        )
    out.sort(key=lambda r: (-r["score"], r["session_id"]))
    return out[:k]


def pin_product(svc: RecommendService, user_id: str, session_id: str) -> dict[str, Any]:
    """The lineup product to pin for this viewer inside the room (the top of their in-room list)."""
    if not svc.wh.sql("SELECT 1 FROM live_sessions WHERE session_id = ?", [session_id]):
        raise NotFound(f"unknown live session {session_id!r}", field="session_id")
    result = svc.recommend(user_id, 1, f"live:{session_id}", explore=False, actor="live")
    if not result["items"]:
        return {"session_id": session_id, "product": None, "reason": result.get("reason", "nothing to pin")}
    return {"session_id": session_id, "product": result["items"][0], "mode": result["mode"]}
