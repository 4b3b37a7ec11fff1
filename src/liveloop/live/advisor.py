"""The host advisor: a ranked, explained "next product" list, alerts and talking points.

Score of a lineup product = heat × conversion × stock × margin, each a factor in (0, 1]:
heat from the last 5 minutes (mentions + 2·clicks + 3·carts + 5·purchases, relative to the hottest),
conversion smoothed towards the room's rate, stock as the share of the remaining units up to a
comfortable level, margin from price and cost. Every suggestion names the factors that drive it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from liveloop.content.personas import TALKING_POINTS, emphasis
from liveloop.live.room import RoomState

LOW_STOCK = 20  # units at which stock starts to pull a product down (and below which an alert fires)
REPEAT_QUESTION_ASKERS = 5
NEGATIVE_SPIKE_SHARE = 0.3
SURGE_RATIO = 1.5


def _factor(value: float, lo: float = 0.05) -> float:
    return max(lo, min(1.0, value))


def next_products(
    room: RoomState, stock: dict[str, int] | None = None, current: str | None = None, n: int = 5
) -> list[dict[str, Any]]:
    """Lineup products ranked by heat × conversion × stock × margin, each with its reasons."""
    heat = room.product_heat(300)
    raw = {
        pid: h["mentions"] + 2 * h["clicks"] + 3 * h["carts"] + 5 * h["purchases"] for pid, h in heat.items()
    }
    top = max(raw.values(), default=0) or 1
    clicks = sum(h["clicks"] for h in heat.values())
    room_cvr = (sum(h["purchases"] for h in heat.values()) + 1) / (clicks + 20)
    out: list[dict[str, Any]] = []
    for pid, info in room.lineup.items():
        if pid == current:
            continue
        h = heat.get(pid, {"clicks": 0, "purchases": 0, "mentions": 0, "carts": 0})
        left = (stock or {}).get(pid, info.get("stock"))
        left = None if left is None else max(int(left) - room.sold[pid], 0)
        f_heat = _factor(raw.get(pid, 0) / top)
        f_cvr = _factor((h["purchases"] + 5 * room_cvr) / (h["clicks"] + 5) / max(room_cvr, 1e-6) / 2)
        f_stock = 1.0 if left is None else (0.0 if left == 0 else _factor(left / LOW_STOCK))
        price, cost = float(info.get("price") or 0), float(info.get("cost") or 0)
        f_margin = _factor((price - cost) / price) if price > 0 and cost > 0 else 0.5
        score = f_heat * f_cvr * f_stock * f_margin
        reasons = [
            f"heat {raw.get(pid, 0)} (mentions {h['mentions']}, clicks {h['clicks']}, carts {h['carts']}, "
            f"purchases {h['purchases']} in 5 min)",
            f"conversion factor {f_cvr:.2f}",
            f"margin factor {f_margin:.2f}",
        ]
        reasons.append(
            "out of stock" if left == 0 else f"stock left {left}" if left is not None else "stock unknown"
        )
        out.append(
            {
                "product_id": pid,
                "name": info.get("name") or pid,
                "score": round(score, 4),
                "factors": {
                    "heat": round(f_heat, 3),
                    "conversion": round(f_cvr, 3),
                    "stock": round(f_stock, 3),
                    "margin": round(f_margin, 3),
                },
                "reason": "; ".join(reasons),
            }
        )
    out.sort(key=lambda r: r["score"], reverse=True)
    return out[:n]


def alerts(room: RoomState, stock: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Negative-sentiment spike, repeated unanswered questions, stock running out, viewer surge."""
    found: list[dict[str, Any]] = []
    w = room.windows()
    one, five = w["1min"], w["5min"]
    share1 = one["negative"] / one["comments"] if one["comments"] else 0.0
    before_n = five["comments"] - one["comments"]  # the four minutes before the last one
    share5 = (five["negative"] - one["negative"]) / before_n if before_n else 0.0
    if one["comments"] >= 10 and share1 >= NEGATIVE_SPIKE_SHARE and share1 >= 1.5 * share5:
        found.append(
            {
                "kind": "negative_spike",
                "subject": str(int(room.now) // 300),  # one alert per five minutes at most
                "severity": "high",
                "message": f"负面评论激增 negative comments {share1:.0%} last minute (5 min: {share5:.0%})",
            }
        )
    for g in room.top_questions(20):
        if g["askers"] >= REPEAT_QUESTION_ASKERS and not g["answered"]:
            found.append(
                {
                    "kind": "unanswered_question",
                    "subject": g["text"][:80],
                    "severity": "medium",
                    "message": f"{g['askers']} viewers asked: 「{g['text'][:40]}」 — not answered yet",
                }
            )
    for pid, info in room.lineup.items():
        initial = (stock or {}).get(pid, info.get("stock"))
        if initial is None:
            continue
        left = int(initial) - room.sold[pid]
        if left <= max(LOW_STOCK // 4, int(0.1 * int(initial))):
            found.append(
                {
                    "kind": "low_stock" if left > 0 else "sold_out",
                    "subject": pid,
                    "severity": "high" if left <= 0 else "medium",
                    "message": f"{info.get('name') or pid}: {max(left, 0)} left in stock",
                }
            )
    now, before = room.viewer_count(), room.viewers_at(300)
    if before is None:
        before = five["enters"] - five["leaves"]
        now_delta = one["enters"] - one["leaves"]
        if now_delta >= 50 and now_delta * 5 >= SURGE_RATIO * max(before, 1):
            found.append(
                {
                    "kind": "viewer_surge",
                    "subject": str(int(room.now) // 300),
                    "severity": "info",
                    "message": f"viewer surge: +{now_delta} in the last minute",
                }
            )
    elif before > 0 and now >= SURGE_RATIO * before and now - before >= 50:
        found.append(
            {
                "kind": "viewer_surge",
                "subject": str(int(room.now) // 300),
                "severity": "info",
                "message": f"viewer surge: {now} now vs {before} five minutes ago",
            }
        )
    return found


def dominant_segments(room: RoomState) -> tuple[Counter[str], str]:
    """Segments of present viewers and where they come from: built profiles where available, else the
    events' ``props.segment``, else simple rules on the comments."""
    profiled = room.segments(profiled_only=True)
    if profiled:
        return profiled, "profiles"
    segs = room.segments()
    if segs:
        return segs, "events"
    w = room.windows()["5min"]
    intents = w["intents"]
    rules: Counter[str] = Counter()
    asked = max(sum(intents.values()), 1)
    if intents.get("price_question", 0) / asked >= 0.15:
        rules["price_sensitive"] = intents["price_question"]
    if intents.get("logistics_question", 0) / asked >= 0.1:
        rules["logistics_concerned"] = intents["logistics_question"]
    return rules, "comments"


def talking_points(room: RoomState, n: int = 3) -> list[dict[str, Any]]:
    """Points for the dominant segments; ``share`` is of the viewers (or questions) they rest on. While a
    product is on stage, the first point is what its buyers say about the aspect those viewers care most
    about (``content.scripts.stage_points``, attached to the lineup when the session opens)."""
    segs, source = dominant_segments(room)
    base = room.present_profiled() if source == "profiles" else sum(segs.values())
    out = []
    staged = room.lineup.get(room.on_stage or "", {}).get("points") or []
    if staged:
        stress = emphasis(segs) if segs else ()
        best = min(
            staged,
            key=lambda p: (stress.index(p["aspect"]) if p["aspect"] in stress else len(stress), -p["count"]),
        )
        out.append(
            {
                "segment": segs.most_common(1)[0][0] if segs else "mainstream",
                "share": 1.0,
                "source": "reviews",
                "point": f"{best['zh']} ({best['en']})",
                "product_id": room.on_stage,
                "reason": f"on stage now; {best['count']} reviews or comments mention its {best['aspect']}",
            }
        )
    for s, c in segs.most_common(n):
        reason = {
            "profiles": f"{c} of {base} present viewers with a profile",
            "events": f"{c} present viewers tagged {s}",
            "comments": f"{c} such questions in the last 5 min",
        }[source]
        out.append(
            {
                "segment": s,
                "share": round(c / max(base, 1), 3),
                "source": source,
                "point": TALKING_POINTS.get(s, f"segment {s}"),
                "reason": reason,
            }
        )
    return out


def advise(
    room: RoomState, stock: dict[str, int] | None = None, current: str | None = None
) -> dict[str, Any]:
    return {
        "next_products": next_products(room, stock, current),
        "alerts": alerts(room, stock),
        "talking_points": talking_points(room),
    }
