"""Answering a viewer's question straight from the lineup and the shop policies.

"这个枕头多少钱", "2号还有吗", "160斤穿啥码", "包邮吗": a question names (or, with 这个 / 这款 or no name at
all, means the product on stage) a product and asks for one of its facts — price, stock, size, colour,
material … — or for a shop policy. :func:`resolve` finds the product and the fact (the *slot*) with
a few regular expressions; the answerer then answers from the data, and hands the question to a human
when the product does not list that fact or when it cannot tell which product is meant. Questions about
anything else go on to the FAQ matcher (:mod:`liveloop.live.qa`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liveloop.live.mentions import MentionMatcher

#: Slots of shop policies, in the order they are tried (the first that matches wins).
POLICY_SLOTS: dict[str, re.Pattern[str]] = {
    "returns": re.compile(r"退|换货|能换|换吗|换码|换.{0,3}码|七天|无理由|refund|return|exchange", re.I),
    "free_shipping": re.compile(
        r"包邮|包油|运费|邮费|免邮|shipping fee|free shipping|(?<![a-z])by(?![a-z])", re.I
    ),
    "shipping": re.compile(
        r"发货|快递|物流|几天到|多久到|能到|到货|发出|什么时候发|啥时候发|能发|发吗|顺丰|京东|中通|圆通|fh|kd|"
        r"ship|deliver|arrive",
        re.I,
    ),
    "authentic": re.compile(
        r"正品|真的假的|真假|假货|假的|防伪|授权|zp|正版|authentic|genuine|fake|original", re.I
    ),
    "coupon": re.compile(r"券|满减|满\d+减|优惠|coupon|discount|promo", re.I),
}
#: Slots of a product's own facts, in the order they are tried.
PRODUCT_SLOTS: dict[str, re.Pattern[str]] = {
    "warranty": re.compile(r"保修|质保|warranty|guarantee", re.I),
    "shelf_life": re.compile(r"保质期|过期|能放|放多久|放几|shelf.?life|expir", re.I),
    "skin": re.compile(r"肤质|敏感肌|油皮|干皮|混油|痘肌|skin", re.I),
    "weight": re.compile(
        r"容量|几升|多少升|多重|重量|净含量|毫升|\bml\b|多少克|几克|weight|volume|litre|liter", re.I
    ),
    "origin": re.compile(r"产地|哪里产|哪产|哪儿产|产的|哪里的|哪国|进口|made in|origin|where.*made", re.I),
    "material": re.compile(
        r"材质|面料|材料|成分|含量|羊绒|什么做的|啥做的|天然|纯棉|material|fabric|made of", re.I
    ),
    "color": re.compile(r"颜色|色|黑的|白的|colou?r", re.I),
    "size": re.compile(
        r"尺码|尺寸|码|多大|多长|多高|多宽|大小|偏大|偏小|\d+\s*斤|\d+\s*[x×*]\s*\d+|高低|"
        r"size|fit|run (?:small|large|big)",
        re.I,
    ),
    "price": re.compile(
        r"多少钱|多钱|多少米|多少前|价格|价钱|价位|什么价|啥价|几块|贵不贵|贵吗|报.{0,2}价|jg|"
        r"how much|price|cost",
        re.I,
    ),
    "stock": re.compile(
        r"有货|货多|还有|有吗有吗|库存|剩|卖光|卖完|售罄|没了|能拍|能买|抢不到|有活|"
        r"in stock|sold out|available|left",
        re.I,
    ),
}
#: A product named only by a link number and 多少 ("2号多少", "乳胶枕多少") asks its price.
_BARE_HOW_MUCH = re.compile(r"多少[?？!！~。\s]*$")
#: Questions about the host, not a product ("主播多高", "主播体重").
_ABOUT_HOST = re.compile(r"主播(?:你)?(?:多高|多重|身高|体重|几岁|多大了|穿多大|穿什么码)")


@dataclass(frozen=True)
class Resolved:
    """Which product a question is about (None: none named or on stage) and which fact it asks."""

    product_id: str | None
    slot: str | None
    kind: str | None  # "product" | "policy" | None
    named: bool = False  # the question names the product (else it came from the stage)


def resolve(question: str, matcher: MentionMatcher | None, on_stage: str | None = None) -> Resolved:
    """The product (named, else on stage) and the slot of a cleaned question."""
    named = matcher.match_one(question) if matcher is not None else None
    product = named or on_stage
    if named is None and _ABOUT_HOST.search(question):
        return Resolved(None, None, None)
    for slot, pattern in POLICY_SLOTS.items():
        if pattern.search(question):
            return Resolved(product, slot, "policy", named is not None)
    for slot, pattern in PRODUCT_SLOTS.items():
        if pattern.search(question):
            return Resolved(product, slot, "product", named is not None)
    if named is not None and _BARE_HOW_MUCH.search(question):
        return Resolved(product, "price", "product", True)
    return Resolved(product, None, None, named is not None)
