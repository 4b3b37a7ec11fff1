"""Read side of profiles: one user's profile with explanations, the segment list, and tag removal."""

from __future__ import annotations

import json
from typing import Any

from liveloop.core.errors import NotFound
from liveloop.core.i18n import N_
from liveloop.core.types import Purpose
from liveloop.privacy import consent
from liveloop.profiles.artifacts import active
from liveloop.profiles.tags import LIFECYCLE_NAMES, removed_tags
from liveloop.profiles.value import HIGH_VALUE_KINDS
from liveloop.warehouse import Warehouse, first_row

#: One-line explanations of the features shown on a profile.
FEATURE_EXPLANATIONS = {
    "frequency": N_("purchases in the data window"),
    "monetary": N_("total spend in the data window"),
    "aov": N_("average order value (spend / purchases)"),
    "recency_days": N_("days since the last purchase, at the cutoff"),
    "refunds": N_("refunds and cancelled orders"),
    "price_sensitivity": N_("0-1: coupon use, discount share and cheapness of what the user buys"),
    "price_band": N_("tertile of the average paid unit price among buyers"),
    "sessions_watched": N_("live sessions entered"),
    "watch_minutes": N_("minutes watched (first enter to last leave per session)"),
    "social_actions": N_("likes + comments + shares + follows + gifts"),
    "comment_sentiment": N_("mean sentiment score of the user's comments (live copilot NLP)"),
    "peak_hour": N_("local hour with most activity"),
    "best_channel": N_("channel with the highest open+click rate"),
    "open_rate": N_("messages opened / messages sent"),
    "top_category": N_("category with the highest weighted interest"),
    "age_band": N_("registered age band"),
    "gender": N_("registered gender"),
    "region": N_("registered region"),
    "city_tier": N_("registered city tier"),
}
TAG_EXPLANATION = N_("top weighted interactions (buy 5, cart 3, favourite 2, view 1)")
_SCORE_EXPLANATIONS = {
    "churn_probability": N_("1 - P(alive) from the BG/NBD model fitted on everyone's purchase history"),
    "expected_purchases": N_("purchases expected in the CLV horizon (BG/NBD)"),
    "clv": N_("expected purchases x expected order value (BG/NBD + Gamma-Gamma)"),
    "high_value_probability": N_("probability that next-window spend is in the top 20%"),
}


def _loads(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def user_profile(wh: Warehouse, user_id: str) -> dict[str, Any]:
    """The built profile of ``user_id``: features, tags, segment, lifecycle, scores, each with a reason."""
    from liveloop.profiles.realtime import predict_interest  # lazy: the interest model loads torch

    row = wh.sql(
        "SELECT p.features, p.tags, p.value_tier, p.lifecycle, p.segment_id, p.scores, p.data_window, "
        "p.model_version, s.name_zh, s.name_en, s.description "
        "FROM profiles p LEFT JOIN segments s USING (segment_id) WHERE p.user_id = ?",
        [user_id],
    )
    if not row:
        known = wh.sql("SELECT count(*) FROM users WHERE user_id = ?", [user_id])[0][0]
        detail = "has no profile yet: run `liveloop profiles build`" if known else "is unknown"
        if not consent.allows(wh, user_id, Purpose.PROFILING):
            detail = "refused profiling: no profile is built"
        raise NotFound(f"user {user_id!r} {detail}", field="user_id")
    feats, tags, tier, stage, seg, scores, window, version, name_zh, name_en, desc = row[0]
    feats, scores = _loads(feats) or {}, _loads(scores) or {}
    removed = set(removed_tags(wh, user_id))
    features = [
        {"name": k, "value": feats.get(k), "explanation": v}
        for k, v in FEATURE_EXPLANATIONS.items()
        if k in feats
    ]
    score_rows = []
    for key, why in _SCORE_EXPLANATIONS.items():
        if key == "high_value_probability":
            why = _high_value_explanation(wh, why)
        value = scores.get(key)
        score_rows.append(
            {
                "name": key,
                "value": value,
                "explanation": why if value is not None else "insufficient data: " + why,
                "reason": _SCORE_EXPLANATIONS[key],  # the fixed part of the explanation, for translation
            }
        )
    segment = None
    if seg:
        d = _loads(desc) or {}
        segment = {
            "segment_id": seg,
            "name_zh": name_zh,
            "name_en": name_en,
            "explanation": d.get("en"),
            "explanation_zh": d.get("zh"),
        }
    zh, en = LIFECYCLE_NAMES.get(stage, (stage, stage))
    return {
        "user_id": user_id,
        "data_window": window,
        "model_version": version,
        "features": features,
        "active_hours": feats.get("active_hours"),
        "tags": [{"tag": t, "explanation": TAG_EXPLANATION} for t in (tags or []) if t not in removed],
        "removed_tags": sorted(removed),
        "value_tier": {
            "value": tier,
            "explanation": "high = top 20% of buyers by net spend, medium = next 30%",
        },
        "lifecycle": {
            "value": stage,
            "name_zh": zh,
            "name_en": en,
            "explanation": "from recency, tenure, purchases and the gap before the last purchase",
        },
        "segment": segment,
        "scores": score_rows,
        "interest": predict_interest(wh, user_id),
    }


def _high_value_explanation(wh: Warehouse, why: str) -> str:
    meta = active(wh, "high_value")
    if meta is None:
        return why
    m = meta["metrics"]
    kind = m.get("chosen", meta["params"].get("kind"))
    auc = m.get("models", {}).get(kind, {}).get("auc")
    base = m.get("baseline", {})
    return (
        f"{HIGH_VALUE_KINDS.get(kind, kind)} {why}"
        + (f"; held-out AUC {auc:.2f}" if auc is not None else "")
        + (f", F1 {m['models'][kind]['f1']:.2f} vs {base['f1']:.2f} for the RFM rule" if "f1" in base else "")
    )


def user_tags(wh: Warehouse, user_id: str) -> dict[str, Any]:
    """The user's interest tags (as built, removals applied at once) and the tags they removed."""
    known = wh.sql(
        "SELECT (SELECT count(*) FROM users WHERE user_id = $u) + (SELECT count(*) FROM profiles WHERE "
        "user_id = $u), (SELECT tags FROM profiles WHERE user_id = $u), "
        "(SELECT model_version FROM profiles WHERE user_id = $u)",
        {"u": user_id},
    )[0]
    if not known[0]:
        raise NotFound(f"user {user_id!r} is unknown", field="user_id")
    removed = wh.sql(
        "SELECT tag, actor, ts FROM tag_overrides WHERE user_id = ? AND action = 'removed' ORDER BY tag",
        [user_id],
    )
    gone = {r[0] for r in removed}
    return {
        "user_id": user_id,
        "model_version": known[2],
        "tags": [{"tag": t, "explanation": TAG_EXPLANATION} for t in (known[1] or []) if t not in gone],
        "removed_tags": [{"tag": t, "removed_by": a, "removed_at": ts} for t, a, ts in removed],
        "explanation": "removed tags stay out of the profile, every rebuild, segments and interest models"
        if known[1] is not None
        else "no profile built yet: tags appear after `liveloop profiles build`",
    }


def list_segments(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT segment_id, name_zh, name_en, description, size, centroid, stats, data_window, model_version "
        "FROM segments ORDER BY size DESC, segment_id"
    )
    out = []
    for sid, zh, en, desc, size, centroid, stats, window, version in rows:
        d = _loads(desc) or {}
        out.append(
            {
                "segment_id": sid,
                "name_zh": zh,
                "name_en": en,
                "description": d.get("en"),
                "description_zh": d.get("zh"),
                "archetype": d.get("archetype"),
                "size": size,
                "centroid": _loads(centroid),
                "stats": _loads(stats),
                "data_window": window,
                "model_version": version,
            }
        )
    return out


def get_segment(wh: Warehouse, segment_id: str, sample: int = 20) -> dict[str, Any]:
    for seg in list_segments(wh):
        if seg["segment_id"] == segment_id:
            users = wh.sql(
                "SELECT user_id FROM profiles WHERE segment_id = ? ORDER BY user_id LIMIT ?",
                [segment_id, sample],
            )
            return seg | {"sample_users": [u[0] for u in users]}
    raise NotFound(f"no segment {segment_id!r}: see `liveloop segments list`", field="segment_id")


def user_timeline(wh: Warehouse, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The user's latest events, newest first (for the User 360 page)."""
    rows = wh.sql(
        "SELECT ts, type, product_id, category, session_id, channel, CAST(amount AS DOUBLE) FROM events "
        "WHERE user_id = ? ORDER BY ts DESC LIMIT ?",
        [user_id, limit],
    )
    keys = ("ts", "type", "product_id", "category", "session_id", "channel", "amount")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def segment_radar(segments: list[dict[str, Any]]) -> tuple[list[str], dict[str, list[float]]]:
    """Each segment's centroid as a ratio to the size-weighted average of all segments (1 = average)."""
    if not segments:
        return [], {}
    features = sorted({k for s in segments for k in (s["centroid"] or {})})
    total = sum(s["size"] for s in segments) or 1
    mean = {f: sum((s["centroid"] or {}).get(f, 0.0) * s["size"] for s in segments) / total for f in features}
    keep = [f for f in features if mean[f] > 0]
    radar = {
        s["segment_id"]: [round(min((s["centroid"] or {}).get(f, 0.0) / mean[f], 5.0), 3) for f in keep]
        for s in segments
    }
    return keep, radar


def forget_user(wh: Warehouse, user_id: str) -> dict[str, int]:
    """Erase a user's derived profile data (profile row, tag overrides, the in-process interest state);
    for the privacy erasure call. Similar-user lookups skip users without a profile row at once; the
    next build leaves them out of the models."""
    counts: dict[str, int] = {}
    with wh.transaction() as con:
        for table in ("profiles", "tag_overrides"):
            row = first_row(con.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?", [user_id]))
            counts[table] = int(row[0]) if row else 0
            con.execute(f"DELETE FROM {table} WHERE user_id = ?", [user_id])
    from liveloop.profiles.realtime import interest_tracker  # lazy: the interest model loads torch

    interest_tracker(wh).forget(user_id)
    return counts
