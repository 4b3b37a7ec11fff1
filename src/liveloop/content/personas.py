"""Viewer personas and what to stress for each: the host's talking points, and which review aspects a
script or a piece of copy leads with (value for price-sensitive viewers, quality and after-sales for
high-value ones — the reference study's persona-driven content)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from liveloop.warehouse import Warehouse

_PRICE = "价格敏感的观众多：讲清到手价、满减和优惠券，强调性价比 (price & value, coupons)"
_MAINSTREAM = "主流观众多：讲使用场景和口碑，演示效果 (use cases, reviews, demo)"

#: Talking points per viewer segment (profile archetypes, simulator segments, simple-rule segments).
TALKING_POINTS: dict[str, str] = {
    "bargain_hunter": _PRICE,
    "price_sensitive": _PRICE,
    "mainstream": _MAINSTREAM,
    "premium": "品质型观众多：讲成分、工艺与售后保障 (ingredients, craft, after-sales)",
    "young_fashion": "年轻时尚观众多：讲设计、搭配和流行趋势 (design, styling, trends)",
    "high_value_loyal": "高价值老客多：讲新品、会员权益和品质保障 (new arrivals, member perks, quality)",
    "high_value": "高消费观众多：讲高端款、套装和品质保障 (premium lines, sets, quality guarantees)",
    "loyal": "复购老客多：感谢老粉，讲会员价和回购福利 (thank regulars, member price, repurchase perks)",
    "active_buyers": "活跃买家多：讲新品首发和搭配加购 (new launches, add-on pairings)",
    "new_customers": "新客多：讲品牌故事、新人券和退换保障 (brand story, first-order coupon, easy returns)",
    "impulse": "冲动型观众多：限时限量、倒计时，直接报链接号 (limited offers, countdown, link number)",
    "silent_viewers": "潜水观众多：发起互动和提问，预告抽奖 (prompt comments, announce the lottery)",
    "engaged_fans": "互动达人多：点名感谢、发福袋、邀请加入粉丝团 (shout-outs, lucky bags, fan club)",
    "window_shoppers": "浏览加购的观众多：讲清优惠截止时间，提醒付款 (offer deadline, checkout reminder)",
    "dormant": "回归的老客多：欢迎回来，讲回归礼和新品变化 (welcome back, what is new)",
    "explorers": "多品类探索的观众多：串讲搭配与组合购 (bundles, cross-category pairings)",
    "english_speakers": "Many English comments: give key facts in English too (size, shipping, price)",
    "logistics_concerned": "很多人问发货/售后：说明发货时间、快递和退换政策 (shipping and returns)",
}
#: Profile segment archetypes (``liveloop.profiles``) with no talking point of their own.
ARCHETYPE_ALIASES = {
    "light": "mainstream",
    "regular": "mainstream",
    "regular_b": "mainstream",
    "regular_c": "mainstream",
}
YOUNG_AGE_BANDS = frozenset({"<18", "18-24", "19-24", "25-30", "18-25", "25-29"})
FASHION_CATEGORIES = frozenset(
    {
        "apparel",
        "jewelry",
        "fashion",
        "clothing",
        "shoes",
        "accessories",
        "服饰",
        "珠宝",
        "女装",
        "男装",
        "鞋靴",
    }
)


def profile_segment(
    archetype: str | None, age_band: str | None, top_category: str | None
) -> tuple[str, tuple[str, ...]]:
    """A viewer's talking-point segment from their profile (segment archetype), plus traits.

    Young viewers (age band up to 30) whose top category is fashion also count as ``young_fashion``.
    """
    key = ARCHETYPE_ALIASES.get(archetype or "", archetype or "mainstream")
    if key not in TALKING_POINTS:
        key = "mainstream"
    young = (age_band or "") in YOUNG_AGE_BANDS
    fashion = str(top_category or "").lower() in FASHION_CATEGORIES
    return key, ("young_fashion",) if young and fashion else ()


#: Review aspects (the zhijiang categories of :mod:`.mining`) each persona cares about, most first.
EMPHASIS: dict[str, tuple[str, ...]] = {
    "bargain_hunter": ("价格", "整体", "使用体验"),
    "price_sensitive": ("价格", "整体", "使用体验"),
    "mainstream": ("使用体验", "整体", "功效"),
    "premium": ("成分", "功效", "真伪", "服务"),
    "young_fashion": ("使用体验", "包装", "整体"),
    "high_value_loyal": ("真伪", "功效", "服务"),
    "high_value": ("真伪", "成分", "功效"),
    "loyal": ("整体", "价格", "使用体验"),
    "active_buyers": ("使用体验", "整体", "价格"),
    "new_customers": ("真伪", "服务", "整体"),
    "impulse": ("价格", "使用体验"),
    "silent_viewers": ("整体", "使用体验"),
    "engaged_fans": ("整体", "使用体验"),
    "window_shoppers": ("价格", "物流"),
    "dormant": ("整体", "价格"),
    "explorers": ("使用体验", "整体"),
    "english_speakers": ("整体", "物流"),
    "logistics_concerned": ("物流", "服务", "包装"),
}
#: Personas for whom the price and the coupon lead a product's pitch.
PRICE_LED = frozenset({"bargain_hunter", "price_sensitive", "impulse", "window_shoppers", "dormant", "loyal"})


def persona_key(segment: str | None) -> str:
    """The talking-point persona of a segment key or archetype (unknown ones count as mainstream)."""
    key = ARCHETYPE_ALIASES.get(segment or "", segment or "mainstream")
    return key if key in TALKING_POINTS else "mainstream"


def emphasis(personas: Counter[str], n: int = 3) -> tuple[str, ...]:
    """The aspects to stress for an audience, weighting each persona's list by its share."""
    weight: dict[str, float] = {}
    for persona, count in personas.items():
        for rank, aspect in enumerate(EMPHASIS.get(persona_key(persona), EMPHASIS["mainstream"])):
            weight[aspect] = weight.get(aspect, 0.0) + count / (rank + 1)
    return tuple(sorted(weight, key=lambda a: -weight[a])[:n])


def price_led(personas: Counter[str]) -> bool:
    """Whether price-led personas are at least 40% of the audience."""
    total = sum(personas.values())
    return total > 0 and sum(c for p, c in personas.items() if persona_key(p) in PRICE_LED) / total >= 0.4


def personas_of(wh: Warehouse, user_ids: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each profiled user's persona and traits, from the built profiles and their segment archetypes."""
    rows = wh.sql(
        "SELECT p.user_id, json_extract_string(s.description, '$.archetype'), "
        "json_extract_string(p.features, '$.age_band'), "
        "json_extract_string(p.features, '$.top_category') "
        "FROM profiles p LEFT JOIN segments s USING (segment_id) "
        "WHERE p.user_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(user_ids)],
    )
    return {str(u): profile_segment(arch, age, cat) for u, arch, age, cat in rows}
