"""Reason codes and bilingual texts carried by every recommended item."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

REASONS: dict[str, tuple[str, str]] = {
    "because_viewed": ("因为你看过「{ref}」", "because you viewed “{ref}”"),
    "similar_users": ("同类用户喜欢", "popular with people like you"),
    "segment_popular": ("与你同类的「{ref}」用户喜欢", "popular with people like you ({ref})"),
    "cold_start": ("新朋友推荐：大家都在买", "new here: what everyone is buying"),
    "bought_together": ("常与「{ref}」一起购买", "often bought with “{ref}”"),
    "similar_item": ("与「{ref}」相似", "similar to “{ref}”"),
    "new_similar": ("新品，与「{ref}」相似", "new, similar to “{ref}”"),
    "popular": ("大家都在买", "popular right now"),
    "trending": ("近期热门", "trending"),
    "live_now": ("正在直播中", "live now"),
    "in_live_now": ("直播间「{ref}」正在热卖", "on sale now in the live room “{ref}”"),
    "in_this_live": ("本场直播在售", "on sale in this live room"),
    "explore": ("为你探索新品", "something new to explore"),
    "non_personalised": ("热门推荐（非个性化）", "popular picks (not personalised)"),
}


def reason(code: str, ref: str | None = None) -> dict[str, Any]:
    """A reason object: code, Chinese and English text (``ref`` names the item it refers to)."""
    zh, en = REASONS[code]
    ref_text = ref or ""
    out: dict[str, Any] = {
        "code": code,
        "text_zh": zh.format(ref=ref_text),
        "text_en": en.format(ref=ref_text),
    }
    if ref:
        out["ref"] = ref
    return out


@lru_cache(maxsize=4096)
def cached_reason(code: str, ref: str | None = None) -> dict[str, Any]:
    """``reason`` memoised for the serving path: treat the result as read-only."""
    return reason(code, ref)


#: Reasons as a person reads them back later, without the item they named at the time.
GENERIC = {
    "because_viewed": ("因为你看过相关商品", "because you viewed related products"),
    "segment_popular": ("与你同类的用户喜欢", "popular with people like you"),
    "bought_together": ("常被一起购买", "often bought together"),
    "similar_item": ("与你看过的商品相似", "similar to products you viewed"),
    "new_similar": ("新品，与你看过的商品相似", "new, similar to products you viewed"),
    "in_live_now": ("直播间正在热卖", "on sale in a live room now"),
}
MODES = {
    "personalised": ("个性化推荐", "personalised"),
    "non_personalised": ("非个性化推荐：你已关闭个性化", "not personalised: you opted out"),
    "cold_start": ("新用户推荐", "for a new visitor"),
    "experiment_popular": (
        "实验组：热门推荐（非个性化）",
        "an experiment's arm: popular picks (not personalised)",
    ),
}


def explain_list(_user: str, decision: str | None, reason: str | None, details: Any, lang: str) -> str:
    """An audited recommendation list as its user reads it: how many items, how, and why."""
    at = 0 if lang == "zh" else 1
    items = [p for p in (decision or "").split(",") if p]
    codes = [c for c in dict.fromkeys((details or {}).get("reasons") or []) if c in REASONS]
    why = [GENERIC.get(c, REASONS[c])[at] for c in codes]
    mode = MODES.get(reason or "", (reason or "", reason or ""))[at]
    if lang == "zh":
        return f"为你推荐了 {len(items)} 件商品（{mode}）" + (f"：{'；'.join(why)}" if why else "")
    return f"{len(items)} products recommended ({mode})" + (f": {'; '.join(why)}" if why else "")
