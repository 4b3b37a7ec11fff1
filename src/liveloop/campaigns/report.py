"""A campaign's results: the funnel (targeted → allowed → sent → delivered → opened → clicked → entered
the live room → bought), every skip with its reason, and the lift against the random holdout group.

The lift compares the share of users who bought within the attribution window after their send time
(``scheduled_at``, the same for the holdout, who were due at it) in the treated group — everyone
allowed and not held out, sent or not (intention to treat) — with the holdout's, with a 95% Wald
interval of the difference.
"""

from __future__ import annotations

import math
from typing import Any

from liveloop.campaigns.engine import get, spec_of
from liveloop.warehouse import Warehouse

Z95 = 1.959963984540054


#: ``m`` (a campaign's users: user_id, grp, t = send time) and ``bought``: who bought within ``?`` days.
MEASURED = (
    "WITH m AS (SELECT user_id, grp, scheduled_at AS t FROM messages WHERE campaign_id = ? "
    "AND status NOT IN ('skipped', 'cancelled')), "
    "bought AS (SELECT DISTINCT m.user_id FROM m JOIN ("
    "  SELECT user_id, ts FROM events WHERE type = 'purchase' UNION ALL SELECT user_id, ts FROM orders "
    "  WHERE coalesce(status, 'completed') NOT IN ('cancelled', 'refunded')) e "
    "  ON e.user_id = m.user_id AND e.ts >= m.t AND e.ts < m.t + to_days(?)) "
)


def _outcomes(wh: Warehouse, campaign_id: str, days: int, session: str | None) -> dict[str, dict[str, int]]:
    room = "AND e.session_id = ?" if session else ""
    rows = wh.sql(
        MEASURED + ", "
        "entered AS (SELECT DISTINCT m.user_id FROM m JOIN events e ON e.user_id = m.user_id "
        f"  AND e.type = 'enter_room' AND e.ts >= m.t AND e.ts < m.t + to_days(?) {room}) "
        "SELECT grp, count(*), count(*) FILTER (WHERE user_id IN (SELECT user_id FROM entered)), "
        "count(*) FILTER (WHERE user_id IN (SELECT user_id FROM bought)) FROM m GROUP BY grp",
        [campaign_id, days, days, *([session] if session else [])],
    )
    return {g: {"users": int(n), "entered": int(e), "bought": int(b)} for g, n, e, b in rows}


def lift(
    wh: Warehouse, campaign_id: str, outcomes: dict[str, dict[str, int]] | None = None
) -> dict[str, Any] | None:
    """Conversion of the treated against the holdout: rates, difference with its 95% interval, relative
    lift (None without a holdout)."""
    if outcomes is None:
        c = get(wh, campaign_id)
        spec = spec_of(c)
        outcomes = _outcomes(wh, campaign_id, spec.attribution_days, spec.session_id)
    return lift_of(outcomes)


def lift_of(outcomes: dict[str, dict[str, int]]) -> dict[str, Any] | None:
    """The lift from ``{"treatment": {"users", "bought"}, "holdout": {...}}`` (None without a holdout)."""
    t, h = outcomes.get("treatment"), outcomes.get("holdout")
    if not t or not h or not t["users"] or not h["users"]:
        return None
    pt, ph = t["bought"] / t["users"], h["bought"] / h["users"]
    se = math.sqrt(pt * (1 - pt) / t["users"] + ph * (1 - ph) / h["users"])
    diff = pt - ph
    return {
        "treated_rate": pt,
        "holdout_rate": ph,
        "difference": diff,
        "ci95": [diff - Z95 * se, diff + Z95 * se],
        "relative": diff / ph if ph > 0 else None,
        "significant": se > 0 and abs(diff) > Z95 * se,
        "treated_users": t["users"],
        "holdout_users": h["users"],
    }


def report(wh: Warehouse, campaign_id: str) -> dict[str, Any]:
    """The funnel, skips by reason, delivery failures by reason, and the lift."""
    c = get(wh, campaign_id)
    spec = spec_of(c)
    counts = wh.sql(
        "SELECT count(*), count(*) FILTER (WHERE status <> 'skipped'), "
        "count(*) FILTER (WHERE grp = 'treatment' AND status <> 'skipped'), count(sent_at), "
        "count(*) FILTER (WHERE delivered_at IS NOT NULL OR (sent_at IS NOT NULL AND bounced_at IS NULL)), "
        "count(opened_at), count(clicked_at), count(unsubscribed_at), count(bounced_at), "
        "count(complained_at), "
        "count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'failed') "
        "FROM messages WHERE campaign_id = ?",
        [campaign_id],
    )[0]
    (
        targeted,
        allowed,
        treated,
        sent,
        delivered,
        opened,
        clicked,
        unsub,
        bounced,
        complained,
        queued,
        failed,
    ) = (int(x) for x in counts)
    skipped = dict(
        wh.sql(
            "SELECT reason, count(*) FROM messages WHERE campaign_id = ? AND status = 'skipped' "
            "GROUP BY reason ORDER BY 2 DESC",
            [campaign_id],
        )
    )
    errors = dict(
        wh.sql(
            "SELECT last_error, count(*) FROM messages WHERE campaign_id = ? "
            "AND status IN ('failed', 'bounced') "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
            [campaign_id],
        )
    )
    by_channel = dict(
        wh.sql(
            "SELECT channel, count(*) FROM messages WHERE campaign_id = ? AND sent_at IS NOT NULL GROUP BY 1",
            [campaign_id],
        )
    )
    outcomes = _outcomes(wh, campaign_id, spec.attribution_days, spec.session_id)
    t = outcomes.get("treatment", {"entered": 0, "bought": 0})
    funnel = [
        ("targeted", targeted),
        ("allowed", allowed),
        ("treated", treated),
        ("sent", sent),
        ("delivered", delivered),
        ("opened", opened),
        ("clicked", clicked),
        ("entered_room", t["entered"]),
        ("bought", t["bought"]),
    ]
    return {
        "campaign": {k: v for k, v in c.items() if k != "spec"}
        | {"kind": spec.kind, "channels": list(spec.channels)},
        "funnel": [{"step": s, "users": n} for s, n in funnel],
        "holdout": outcomes.get("holdout", {"users": 0, "entered": 0, "bought": 0}),
        "skipped": skipped,
        "delivery": {
            "queued": queued,
            "failed": failed,
            "bounced": bounced,
            "unsubscribed": unsub,
            "complained": complained,
            "errors": errors,
            "sent_by_channel": by_channel,
        },
        "lift": lift(wh, campaign_id, outcomes),
        "attribution_days": spec.attribution_days,
    }
