"""Claim rules beside the absolute-term list: medical, efficacy, reference-price, scarcity, inducement.

Each rule is a pattern with a severity and a suggested fix. A flagged claim that depends on a fact (a
"was" price, the stock, a functional claim's registration) is settled by :func:`settle` when the
product's facts are known: a "was" price above the lowest actual price of the previous 7 days and a
scarcity claim the stock contradicts become blocks; a claim the facts support passes. The patterns
follow docs/content-annotation.md and were checked on its development sentences only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Disease, treatment and medical claims: never lawful for cosmetics or food (Advertising Law art. 17).
MEDICAL = re.compile(
    r"治疗|治愈|根治|疗效|药效|药用|处方|医学级|医用级|消炎|抗炎|杀菌|抑菌|灭菌|除菌|除螨|祛疤|去疤|"
    r"干细胞|防癌|抗癌|降血压|降血糖|降血脂|降三高|增强免疫|提高免疫|排毒|排浊|防辐射|抗辐射|包治|补脑|变聪明|增高|"
    r"\bcures?\b|\bheals?\b|anti-?inflammatory|antibacterial"
)
#: Guaranteed or unverifiable results (Advertising Law art. 28): blocked.
EFFICACY_GUARANTEE = re.compile(
    r"无效退款|立即见效|立竿见影|当天见效|[0-9一二三四五六七八九十]+天(?:见效|美白|变白|祛斑|瘦)|永久|根除|彻底(?:去除|清除|消除)|"
    r"不反弹|100%有效|百分百有效|零副作用|无副作用|guaranteed results?"
)
#: Functional claims that need a registration or a test report on file (special-use cosmetics).
EFFICACY_CLAIM = re.compile(
    r"美白|亮白|嫩白|净白|透白|幼白|祛斑|淡斑|去斑|防晒|SPF ?\d*|PA\+{1,4}|抗皱|去皱|祛皱|淡化细纹|"
    r"祛痘|去痘|控痘|祛黑头|去黑头|防脱|生发|育发|抗衰|抗老|抗初老|抗敏|舒敏|减肥|瘦身|燃脂|丰胸|"
    r"去黑眼圈|淡化黑眼圈|去眼袋|提拉|紧致|紧实|紧颜|紧肤|修护|修复|提亮肤色|亮肤|改善暗沉|不刺激|"
    r"whitening|anti-?aging|anti-?wrinkle",
    re.I,
)
#: Discounts and comparisons that rest on a reference price (SAMR Order 56; DESIGN.md §8.3).
REFERENCE_PRICE = re.compile(
    r"(?:原价|划线价|市场价|专柜价|吊牌价)\s*[¥￥]?\s*(?P<was>\d+(?:\.\d+)?)?|"
    r"(?P<fold>\d(?:\.\d)?)\s*折|半价|直降|史低|破价|清仓价|跳楼价|"
    r"比(?!实体店|专柜|超市|商场|外面|别家).{0,6}便宜|"
    r"\bwas\s*[¥$]\s*(?P<was_en>\d+(?:\.\d+)?)|\b\d{1,2}% off\b",
    re.I,
)
#: Limits and urgency that need the stock or the rules behind them.
SCARCITY = re.compile(
    r"限量|限时|仅剩\s*(?P<left>\d+)?|最后\s*(?P<last>\d+)\s*[件份个瓶盒套]|最后一批|售完即止|卖完即止|"
    r"秒杀|抢购|抢先|手慢无|库存告急|快抢光|马上(?:抢光|卖完|售罄)|专享|仅限|特供|限定|限\d+件|"
    r"\bonly (?P<left_en>\d+) left\b|limited edition|"
    r"while stocks last",
    re.I,
)
#: Paying for reviews or likes (blocked); gifts tied to conditions (their rules must be disclosed).
INDUCEMENT_BANNED = re.compile(
    r"好评返现|晒图返现|好评送|五星好评|点赞返现|刷单|返现好评|cash for (?:a )?review", re.I
)
INDUCEMENT_GIFT = re.compile(
    r"满赠|满\d+减\d+|买[一二三1-9]送[一二三1-9]|买[一二三1-9]赠[一二三1-9]|赠品|赠送|加送|送了|送的|好礼|礼包|"
    r"前\d+名|积分兑换|定金.{0,4}抵|free gift",
    re.I,
)
#: A price compared with another channel's (a physical store, a counter): no basis the shop can show.
OTHER_CHANNEL_PRICE = re.compile(
    r"(?:比|较)?(?:实体店|专柜|超市|商场|外面|别家)[^，。！？,.!?]{0,10}(?:便宜|低|划算|实惠)"
)

#: What each rule protects, for findings and docs: (law, suggested fix).
RULES: dict[str, tuple[str, str]] = {
    "absolute": (
        "Advertising Law art. 9(3): no absolute or superlative terms",
        "replace the absolute term with a factual description (e.g. 口碑好评, 高品质, 到手价)",
    ),
    "medical": (
        "Advertising Law art. 17: no disease or treatment claims outside medical advertising",
        "remove the medical claim; describe the product's ordinary function (清洁, 保湿, 口感)",
    ),
    "efficacy": (
        "Advertising Law art. 28 and the cosmetics claim rules: functional claims need evidence on file",
        "remove the claim, or record its registration or test report in the product's attributes.claims",
    ),
    "reference_price": (
        "SAMR Order 56 (price marking): a 'was' price may not exceed the lowest actual price of the "
        "previous 7 days",
        "state today's price only, or quote the 7-day lowest actual price as the reference",
    ),
    "scarcity": (
        "Live-stream marketing measures: no false urgency or scarcity",
        "state the real stock or the real end time, or remove the urgency",
    ),
    "inducement": (
        "E-Commerce Law art. 17 and the live-stream marketing measures: no paid reviews; gift rules "
        "disclosed",
        "remove rewards for reviews or likes; state the gift's rules (who, when, how many)",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One problem in a text: the rule, the words (``start``..``end``), how bad, why, and a fix."""

    rule: str
    term: str
    start: int
    end: int
    severity: str  # "block" or "flag"
    message: str

    @property
    def suggestion(self) -> str:
        return RULES[self.rule][1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "term": self.term,
            "span": [self.start, self.end],
            "severity": self.severity,
            "message": self.message,
            "law": RULES[self.rule][0],
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class ClaimFacts:
    """What a text's claims are checked against: the price now, the lowest actual price of the previous 7
    days, the stock, and the functional claims with evidence on file."""

    price: float | None = None
    lowest_7d: float | None = None
    stock: int | None = None
    claims: tuple[str, ...] = ()


def _finding(rule: str, m: re.Match[str], severity: str, message: str) -> Finding:
    return Finding(rule, m.group(0), m.start(), m.end(), severity, message)


def _number(m: re.Match[str], *names: str) -> float | None:
    for name in names:
        value = m.groupdict().get(name)
        if value:
            return float(value)
    return None


def _reference(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    if facts is None or facts.lowest_7d is None:
        return _finding(
            "reference_price", m, "flag", "a discount or 'was' price needs the 7-day reference price"
        )
    was = _number(m, "was", "was_en")
    fold = _number(m, "fold")
    if was is None and fold is not None and facts.price and 0 < fold < 10:
        was = round(facts.price / (fold / 10), 2)
    if was is None:
        return _finding(
            "reference_price",
            m,
            "flag",
            f"check the comparison against the 7-day lowest price {facts.lowest_7d:.2f}",
        )
    if was > facts.lowest_7d + 0.005:
        return _finding(
            "reference_price",
            m,
            "block",
            f"implied 'was' price {was:.2f} is above the lowest actual price of the previous 7 days "
            f"({facts.lowest_7d:.2f})",
        )
    return _finding("reference_price", m, "pass", f"'was' price {was:.2f} is within the 7-day lowest price")


def _scarcity(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    if facts is None or facts.stock is None:
        return _finding(
            "scarcity", m, "flag", "a limit or urgency needs the stock or the offer's end behind it"
        )
    said = _number(m, "left", "last", "left_en")
    if said is not None and facts.stock > said:
        return _finding("scarcity", m, "block", f"says {said:.0f} left while the stock is {facts.stock}")
    urgent = any(w in m.group(0) for w in ("告急", "抢光", "卖完", "售罄", "最后一批"))
    if urgent and facts.stock > 50:
        return _finding(
            "scarcity", m, "block", f"claims the stock is running out while {facts.stock} are left"
        )
    if said is not None or urgent:
        return _finding("scarcity", m, "pass", f"the stock ({facts.stock}) supports it")
    return _finding("scarcity", m, "flag", "a time or quantity limit: state its real end or size")


def _efficacy(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    term = m.group(0).lower()
    if facts is not None and any(term in c.lower() or c.lower() in term for c in facts.claims if c):
        return _finding("efficacy", m, "pass", "the claim's evidence is on file")
    return _finding("efficacy", m, "flag", "a functional claim needs a registration or test report on file")


def find_claims(text: str, facts: ClaimFacts | None = None) -> list[Finding]:
    """Every claim in ``text`` the rules know, settled against ``facts`` where given (``pass`` findings
    record what the facts supported)."""
    found: list[Finding] = []
    found += [_finding("medical", m, "block", "a disease or medical claim") for m in MEDICAL.finditer(text)]
    found += [
        _finding("efficacy", m, "block", "a guaranteed or unverifiable result")
        for m in EFFICACY_GUARANTEE.finditer(text)
    ]
    found += [_efficacy(m, facts) for m in EFFICACY_CLAIM.finditer(text)]
    found += [_reference(m, facts) for m in REFERENCE_PRICE.finditer(text)]
    found += [
        _finding("reference_price", m, "block", "a price compared with another channel's: no basis to show")
        for m in OTHER_CHANNEL_PRICE.finditer(text)
    ]
    found += [_scarcity(m, facts) for m in SCARCITY.finditer(text)]
    found += [
        _finding("inducement", m, "block", "a reward for reviews or likes")
        for m in INDUCEMENT_BANNED.finditer(text)
    ]
    found += [
        _finding("inducement", m, "flag", "a gift tied to a condition: disclose its rules")
        for m in INDUCEMENT_GIFT.finditer(text)
    ]
    return found
