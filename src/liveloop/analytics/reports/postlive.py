"""The post-live report (直播复盘) of one session, as data: its KPIs against the per-session targets and
the host's previous sessions, the session minute by minute, each product's explanation results, the top
questions and complaints, what the advisor raised with what followed, and the session's risk flags.

It reads the warehouse only. Where the live copilot ran the session, its per-minute rows, question groups,
alerts and on-stage sales are used; for any other session (an imported or simulated one) the minutes come
from the session's events, comments and orders, and the questions from its scored comments.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from liveloop.analytics.kpis import comparison, compute
from liveloop.analytics.risk_store import KINDS
from liveloop.core.errors import InsufficientData, NotFound
from liveloop.core.types import QUESTION_INTENTS
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

#: The KPIs of a session, in the order the report shows them.
SESSION_KPIS = (
    "gmv", "orders", "buyers", "aov", "viewers", "room_views", "gpm", "uv_value", "view_to_buy",
    "avg_watch_seconds", "interaction_rate", "follower_conversion", "product_ctr", "add_to_cart_rate",
    "refund_rate",
)  # fmt: skip
PREVIOUS = 5  # the host's sessions before this one the report compares with
FOLLOW_MINUTES = 5  # what followed an alert: the room this many minutes later


def _session(wh: Warehouse, session_id: str) -> dict[str, Any]:
    rows = wh.sql(
        "SELECT s.session_id, s.title, s.host_id, h.name, s.start_ts, s.end_ts, s.lineup "
        "FROM live_sessions s LEFT JOIN hosts h USING (host_id) WHERE s.session_id = ?",
        [session_id],
    )
    if not rows:
        raise NotFound(f"no live session {session_id!r} in the warehouse", field="session_id")
    names = ("session_id", "title", "host_id", "host_name", "start_ts", "end_ts", "lineup")
    return dict(zip(names, rows[0], strict=True))


def _kpis(wh: Warehouse, grain: str, where: dict[str, str], tz: str) -> dict[str, dict[str, Any]]:
    rows = compute(wh, list(SESSION_KPIS), grain, where=where, tz=tz)["rows"]
    return {str(r.pop("key")): r for r in rows if r["key"] is not None}


def _previous(wh: Warehouse, session: dict[str, Any], tz: str) -> tuple[list[str], dict[str, float | None]]:
    """The host's sessions that started before this one (newest ``PREVIOUS``) and each KPI's mean."""
    if not session["host_id"] or session["start_ts"] is None:
        return [], {}
    ids = [
        str(r[0])
        for r in wh.sql(
            "SELECT session_id FROM live_sessions WHERE host_id = ? AND start_ts < ? AND session_id <> ? "
            "ORDER BY start_ts DESC LIMIT ?",
            [session["host_id"], session["start_ts"], session["session_id"], PREVIOUS],
        )
    ]
    if not ids:
        return [], {}
    per = _kpis(wh, "session", {"host": session["host_id"]}, tz)
    means: dict[str, float | None] = {}
    for m in SESSION_KPIS:
        seen = [per[i][m] for i in ids if i in per and per[i][m] is not None]
        means[m] = round(sum(seen) / len(seen), 6) if seen else None
    return ids, means


def _targets(wh: Warehouse, session_id: str) -> dict[str, float]:
    """Per-session targets: ``grain = "session"`` with ``key = "all"`` (every session) or the session id
    (that one wins)."""
    rows = wh.sql(
        "SELECT metric, target FROM kpi_targets WHERE grain = 'session' AND key IN ('all', ?) "
        "ORDER BY key = 'all' DESC",
        [session_id],
    )
    return {str(m): float(t) for m, t in rows}


def _copilot(wh: Warehouse, session_id: str) -> dict[str, Any] | None:
    found = wh.sql("SELECT summary FROM live_summaries WHERE session_id = ?", [session_id])
    if not found:
        return None
    value = found[0][0]
    return json.loads(value) if isinstance(value, str) else value


def _minutes_of_copilot(wh: Warehouse, session_id: str) -> list[dict[str, Any]]:
    return list(
        wh.arrow(
            "SELECT minute, viewers, comments, sentiment_index, questions, gmv::DOUBLE AS gmv, on_stage "
            "FROM live_minutes WHERE session_id = ? ORDER BY minute",
            [session_id],
        ).to_pylist()
    )


def _minutes_of_warehouse(wh: Warehouse, session: dict[str, Any]) -> list[dict[str, Any]]:
    """Per minute from the warehouse: viewers in the room (entries less leaves so far), comments, the
    sentiment index (100 × mean sentiment score of the scored comments), questions and GMV."""
    sid = session["session_id"]
    return list(
        wh.arrow(
            f"""
            WITH e AS (
                SELECT date_trunc('minute', ts) AS minute,
                    count(*) FILTER (WHERE type = 'enter_room') - count(*) FILTER (WHERE type = 'leave_room')
                        AS net,
                    count(*) FILTER (WHERE type = 'comment') AS comment_events
                FROM events WHERE session_id = ? GROUP BY 1
            ),
            c AS (
                SELECT date_trunc('minute', ts) AS minute, count(*) AS comments,
                    round(100 * avg(sentiment_score), 1) AS sentiment_index,
                    count(*) FILTER (WHERE intent IN {QUESTION_INTENTS}) AS questions
                FROM comments WHERE session_id = ? GROUP BY 1
            ),
            o AS (
                SELECT date_trunc('minute', ts) AS minute, sum(amount)::DOUBLE AS gmv FROM orders
                WHERE session_id = ? AND {paid()} GROUP BY 1
            )
            SELECT minute,
                greatest(sum(coalesce(e.net, 0)) OVER (ORDER BY minute), 0)::INTEGER AS viewers,
                greatest(coalesce(c.comments, 0), coalesce(e.comment_events, 0))::INTEGER AS comments,
                c.sentiment_index, coalesce(c.questions, 0)::INTEGER AS questions,
                coalesce(o.gmv, 0) AS gmv, NULL::VARCHAR AS on_stage
            FROM e FULL JOIN c USING (minute) FULL JOIN o USING (minute)
            ORDER BY minute
            """,
            [sid, sid, sid],
        ).to_pylist()
    )


def _products(wh: Warehouse, session: dict[str, Any], copilot: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each product's explanation results: clicks, carts, orders, units and GMV in the session (and, where
    the copilot ran it, while the product was on stage), lineup first."""
    if copilot and copilot.get("products"):
        return list(copilot["products"])
    sid = session["session_id"]
    rows = wh.arrow(
        f"""
        WITH ev AS (
            SELECT product_id, count(*) FILTER (WHERE type = 'click') AS clicks,
                count(*) FILTER (WHERE type = 'add_to_cart') AS carts
            FROM events WHERE session_id = ? AND product_id IS NOT NULL GROUP BY 1
        ),
        sold AS (
            SELECT i.product_id, count(DISTINCT o.order_id) AS purchases, sum(i.quantity) AS units,
                sum(i.amount)::DOUBLE AS gmv
            FROM orders o JOIN order_items i USING (order_id)
            WHERE o.session_id = ? AND {paid("o")} GROUP BY 1
        )
        SELECT product_id, coalesce(p.title, product_id) AS name, coalesce(clicks, 0) AS clicks,
            coalesce(carts, 0) AS carts, coalesce(purchases, 0) AS purchases, coalesce(units, 0) AS units,
            coalesce(gmv, 0) AS gmv
        FROM ev FULL JOIN sold USING (product_id) LEFT JOIN products p USING (product_id)
        """,
        [sid, sid],
    ).to_pylist()
    lineup = list(session["lineup"] or [])
    rank = {pid: i for i, pid in enumerate(lineup)}
    return sorted(rows, key=lambda r: (rank.get(r["product_id"], len(lineup)), -r["gmv"], r["product_id"]))


def _questions(wh: Warehouse, session_id: str, copilot: bool) -> list[dict[str, Any]]:
    if copilot:
        found = wh.arrow(
            "SELECT text, intent, product_id, asks, askers, status, answer FROM live_questions "
            "WHERE session_id = ? ORDER BY askers DESC, asks DESC, last_ts DESC LIMIT 10",
            [session_id],
        ).to_pylist()
        if found:
            return list(found)
    return list(
        wh.arrow(
            f"SELECT any_value(text) AS text, any_value(intent) AS intent, any_value(product_mention) "
            f"AS product_id, count(*) AS asks, count(DISTINCT user_id) AS askers, NULL AS status, "
            f"NULL AS answer FROM comments WHERE session_id = ? AND intent IN {QUESTION_INTENTS} "
            f"GROUP BY lower(trim(text)) ORDER BY askers DESC, asks DESC, text LIMIT 10",
            [session_id],
        ).to_pylist()
    )


def _complaints(wh: Warehouse, session_id: str) -> list[dict[str, Any]]:
    """The negative comments, most repeated first, with the aspects they name."""
    return list(
        wh.arrow(
            "SELECT any_value(text) AS text, count(*) AS times, count(DISTINCT user_id) AS users, "
            "list_distinct(flatten(list(coalesce(aspects, [])))) AS aspects FROM comments "
            "WHERE session_id = ? AND sentiment = 'negative' GROUP BY lower(trim(text)) "
            "ORDER BY users DESC, times DESC, text LIMIT 10",
            [session_id],
        ).to_pylist()
    )


def _advice(wh: Warehouse, session_id: str, minutes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alert the advisor raised, with the room when it was raised and ``FOLLOW_MINUTES`` later:
    what was on stage, viewers and sentiment (what the host did and how the room answered)."""
    alerts = wh.arrow(
        "SELECT ts, kind, subject, severity, message FROM live_alerts WHERE session_id = ? ORDER BY ts",
        [session_id],
    ).to_pylist()
    by_minute = [(m["minute"], m) for m in minutes]

    def at(ts: datetime) -> dict[str, Any] | None:
        seen = [m for t, m in by_minute if t <= ts]
        return seen[-1] if seen else None

    out = []
    for a in alerts:
        then, later = at(a["ts"]), at(a["ts"] + timedelta(minutes=FOLLOW_MINUTES))
        out.append(
            {
                **a,
                "on_stage": then and then["on_stage"],
                "on_stage_after": later and later["on_stage"],
                "viewers": then and then["viewers"],
                "viewers_after": later and later["viewers"],
                "sentiment": then and then["sentiment_index"],
                "sentiment_after": later and later["sentiment_index"],
            }
        )
    return out


def _risk(wh: Warehouse, session_id: str) -> dict[str, Any]:
    """The session's risk flags (those stored by risk scans): the flags about the session itself, and the
    linked-account rings and refund abusers with orders placed in it, dismissed ones left out. Per kind how
    many (confirmed among them) and the distinct accounts; the strongest flag of each kind (a confirmed one
    first; scores are comparable only within a kind) with up to five of its accounts."""
    rows = wh.sql(
        """
        WITH ids AS (
            SELECT flag_id FROM risk_flags WHERE session_id = ?
            UNION
            SELECT m.flag_id FROM risk_flag_members m JOIN orders o ON m.item_type = 'order'
                AND m.item_id = o.order_id WHERE o.session_id = ?
        )
        SELECT f.flag_id, f.kind, f.subject_type, f.subject, f.score, f.status, f.evidence,
            (SELECT list(m.user_id ORDER BY m.ts NULLS LAST, m.user_id) FROM risk_flag_members m
                WHERE m.flag_id = f.flag_id AND m.item_type = 'account') AS accounts
        FROM risk_flags f JOIN ids USING (flag_id)
        WHERE f.status <> 'dismissed'
        ORDER BY f.kind, f.score DESC, f.flag_id
        """,
        [session_id, session_id],
    )
    flags = []
    per_kind: dict[str, dict[str, Any]] = {}
    for flag_id, kind, subject_type, subject, score, status, evidence, accounts in rows:
        accounts = list(accounts or [])
        flags.append(
            {
                "flag_id": flag_id, "kind": kind, "subject_type": subject_type, "subject": subject,
                "score": float(score), "status": status,
                "evidence": json.loads(evidence) if isinstance(evidence, str) else evidence,
                "accounts": len(accounts), "examples": accounts[:5],
            }
        )  # fmt: skip
        counts = per_kind.setdefault(kind, {"flags": 0, "confirmed": 0, "accounts": set()})
        counts["flags"] += 1
        counts["confirmed"] += status == "confirmed"
        counts["accounts"].update(accounts)
    for counts in per_kind.values():
        counts["accounts"] = len(counts["accounts"])
    best: dict[str, dict[str, Any]] = {}
    for f in sorted(flags, key=lambda f: (f["status"] != "confirmed", -f["score"], f["flag_id"])):
        best.setdefault(f["kind"], f)
    order = list(KINDS)
    top = sorted(best.values(), key=lambda f: (f["status"] != "confirmed", order.index(f["kind"])))
    return {
        "total": len(flags),
        "per_kind": {k: per_kind[k] for k in order if k in per_kind},
        "top": top,
    }


def post_live(wh: Warehouse, session_id: str, *, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Everything the post-live report of ``session_id`` shows; a session without data is refused."""
    session = _session(wh, session_id)
    copilot = _copilot(wh, session_id)
    kpis = _kpis(wh, "platform", {"session": session_id}, tz).get("all", {})
    minutes = _minutes_of_copilot(wh, session_id) if copilot else []
    minutes = minutes or _minutes_of_warehouse(wh, session)
    if not minutes and not kpis.get("gmv") and not kpis.get("viewers"):
        raise InsufficientData(
            f"session {session_id!r} has no events, comments or orders in the warehouse: no report to write",
            field="session_id",
        )
    previous, means = _previous(wh, session, tz)
    targets = _targets(wh, session_id)
    rows = [comparison(m, kpis.get(m), means.get(m)) | {"target": targets.get(m)} for m in SESSION_KPIS]
    products = _products(wh, session, copilot)
    return {
        "kind": "post_live",
        "session": session,
        "ran_by_copilot": copilot is not None,
        "kpis": rows,
        "previous_sessions": previous,
        "minutes": minutes,
        "products": products,
        "names": {p["product_id"]: p["name"] for p in products},
        "questions": _questions(wh, session_id, copilot is not None),
        "complaints": _complaints(wh, session_id),
        "advice": _advice(wh, session_id, minutes),
        "questions_answered": (copilot or {}).get("questions", {}).get("answered"),
        "questions_handed_off": (copilot or {}).get("questions", {}).get("handed_off"),
        "risk": _risk(wh, session_id),
    }
