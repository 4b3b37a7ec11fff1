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

#: What each rule protects, for findings and docs: (law, suggested fix) in English and in Chinese.
RULES: dict[str, tuple[str, str, str, str]] = {
    "absolute": (
        "Advertising Law art. 9(3): no absolute or superlative terms",
        "replace the absolute term with a factual description (well reviewed, high quality, final price)",
        "《广告法》第九条第三项：不得使用“国家级”“最高级”“最佳”等用语",
        "把极限词换成如实的描述（如：口碑好评、高品质、到手价）",
    ),
    "medical": (
        "Advertising Law art. 17: no disease or treatment claims outside medical advertising",
        "remove the medical claim; describe the product's ordinary function (cleansing, moisture, taste)",
        "《广告法》第十七条：医疗、药品、医疗器械以外的广告不得涉及疾病治疗功能",
        "删去医疗用语，只写产品本身的功能（如：清洁、保湿、口感）",
    ),
    "efficacy": (
        "Advertising Law art. 28 and the cosmetics claim rules: functional claims need evidence on file",
        "remove the claim, or record its registration or test report in the product's attributes.claims",
        "《广告法》第二十八条与化妆品功效宣称规定：功效宣称须有依据",
        "删去该宣称，或在商品属性 claims 中登记备案或检测报告",
    ),
    "reference_price": (
        "SAMR Order 56 (price marking): a 'was' price may not exceed the lowest actual price of the "
        "previous 7 days",
        "state today's price only, or quote the 7-day lowest actual price as the reference",
        "《明码标价和禁止价格欺诈规定》：划线价不得高于前七日内最低成交价",
        "只写今日价格，或以前七日最低成交价作为参考价",
    ),
    "scarcity": (
        "Live-stream marketing measures: no false urgency or scarcity",
        "state the real stock or the real end time, or remove the urgency",
        "《网络直播营销管理办法》：不得虚构紧缺、制造紧迫感",
        "写明真实库存或真实截止时间，或删去紧迫用语",
    ),
    "inducement": (
        "E-Commerce Law art. 17 and the live-stream marketing measures: no paid reviews; gift rules "
        "disclosed",
        "remove rewards for reviews or likes; state the gift's rules (who, when, how many)",
        "《电子商务法》第十七条与直播营销办法：不得以返现诱导好评；赠品规则须公示",
        "删去好评返现等诱导；写明赠品规则（对象、时间、数量）",
    ),
}
#: Why a finding was raised: (English, Chinese), formatted with its numbers.
MESSAGES: dict[str, tuple[str, str]] = {
    "absolute": ("an absolute or banned term", "极限词或禁用词"),
    "soft": ("a term that needs review", "需要人工复核的用语"),
    "medical": ("a disease or medical claim", "疾病或医疗功效宣称"),
    "guarantee": ("a guaranteed or unverifiable result", "保证效果或无法证实的效果"),
    "efficacy": (
        "a functional claim needs a registration or test report on file",
        "功效宣称需要备案或检测报告",
    ),
    "efficacy_ok": ("the claim's evidence is on file", "该功效已有依据"),
    "ref_unknown": (
        "a discount or 'was' price needs the 7-day reference price",
        "折扣或划线价需要前七日最低成交价",
    ),
    "ref_check": (
        "check the comparison against the 7-day lowest price {low:.2f}",
        "请与前七日最低成交价 {low:.2f} 核对",
    ),
    "ref_high": (
        "implied 'was' price {was:.2f} is above the lowest actual price of the previous 7 days ({low:.2f})",
        "对应的划线价 {was:.2f} 高于前七日最低成交价 {low:.2f}",
    ),
    "ref_ok": (
        "'was' price {was:.2f} is within the 7-day lowest price",
        "划线价 {was:.2f} 不高于前七日最低成交价",
    ),
    "other_channel": (
        "a price compared with another channel's: no basis to show",
        "与其他渠道比价，无法提供依据",
    ),
    "scarce_unknown": (
        "a limit or urgency needs the stock or the offer's end behind it",
        "限量或紧迫宣称需要库存或截止时间支持",
    ),
    "scarce_false": (
        "says {said:.0f} left while the stock is {stock}",
        "声称仅剩 {said:.0f} 件，实际库存 {stock}",
    ),
    "scarce_rush": (
        "claims the stock is running out while {stock} are left",
        "声称库存告急，实际还有 {stock} 件",
    ),
    "scarce_ok": ("the stock ({stock}) supports it", "库存（{stock}）支持该说法"),
    "scarce_limit": (
        "a time or quantity limit: state its real end or size",
        "时间或数量限制：写明真实截止时间或数量",
    ),
    "paid_review": ("a reward for reviews or likes", "以奖励换取好评或点赞"),
    "gift": ("a gift tied to a condition: disclose its rules", "附条件的赠品：须公示规则"),
    "gift_disclosed": ("a published coupon: its rules are disclosed", "已公示规则的优惠券"),
}


@dataclass(frozen=True)
class Finding:
    """One problem in a text: the rule, the words (``start``..``end``), how bad, why, and a fix."""

    rule: str
    term: str
    start: int
    end: int
    severity: str  # "block", "flag", or "pass" (a claim the facts support)
    message: str
    message_zh: str = ""

    @property
    def suggestion(self) -> str:
        return RULES[self.rule][1]

    def to_dict(self) -> dict[str, Any]:
        law, fix, law_zh, fix_zh = RULES[self.rule]
        return {
            "rule": self.rule,
            "term": self.term,
            "span": [self.start, self.end],
            "severity": self.severity,
            "message": self.message,
            "message_zh": self.message_zh or self.message,
            "law": law,
            "law_zh": law_zh,
            "suggestion": fix,
            "suggestion_zh": fix_zh,
        }


def finding(rule: str, term: str, start: int, severity: str, key: str, **values: Any) -> Finding:
    """A finding with its message in both languages (``MESSAGES[key]`` formatted with ``values``)."""
    en, zh = MESSAGES[key]
    return Finding(rule, term, start, start + len(term), severity, en.format(**values), zh.format(**values))


@dataclass(frozen=True)
class ClaimFacts:
    """What a text's claims are checked against: the price now, the lowest actual price of the previous 7
    days, the stock, and the functional claims with evidence on file."""

    price: float | None = None
    lowest_7d: float | None = None
    stock: int | None = None
    claims: tuple[str, ...] = ()
    #: names of published coupons (their rules are disclosed): a conditional offer quoting one passes
    offers: tuple[str, ...] = ()


def _finding(rule: str, m: re.Match[str], severity: str, key: str, **values: Any) -> Finding:
    return finding(rule, m.group(0), m.start(), severity, key, **values)


def _number(m: re.Match[str], *names: str) -> float | None:
    for name in names:
        value = m.groupdict().get(name)
        if value:
            return float(value)
    return None


def _reference(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    if facts is None or facts.lowest_7d is None:
        return _finding("reference_price", m, "flag", "ref_unknown")
    was = _number(m, "was", "was_en")
    fold = _number(m, "fold")
    if was is None and fold is not None and facts.price and 0 < fold < 10:
        was = round(facts.price / (fold / 10), 2)
    if was is None:
        return _finding("reference_price", m, "flag", "ref_check", low=facts.lowest_7d)
    if was > facts.lowest_7d + 0.005:
        return _finding("reference_price", m, "block", "ref_high", was=was, low=facts.lowest_7d)
    return _finding("reference_price", m, "pass", "ref_ok", was=was)


def _scarcity(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    if facts is None or facts.stock is None:
        return _finding("scarcity", m, "flag", "scarce_unknown")
    said = _number(m, "left", "last", "left_en")
    if said is not None and facts.stock > said:
        return _finding("scarcity", m, "block", "scarce_false", said=said, stock=facts.stock)
    urgent = any(w in m.group(0) for w in ("告急", "抢光", "卖完", "售罄", "最后一批"))
    if urgent and facts.stock > 50:
        return _finding("scarcity", m, "block", "scarce_rush", stock=facts.stock)
    if said is not None or urgent:
        return _finding("scarcity", m, "pass", "scarce_ok", stock=facts.stock)
    return _finding("scarcity", m, "flag", "scarce_limit")


def _efficacy(m: re.Match[str], facts: ClaimFacts | None) -> Finding:
    term = m.group(0).lower()
    if facts is not None and any(term in c.lower() or c.lower() in term for c in facts.claims if c):
        return _finding("efficacy", m, "pass", "efficacy_ok")
    return _finding("efficacy", m, "flag", "efficacy")


def find_claims(text: str, facts: ClaimFacts | None = None) -> list[Finding]:
    """Every claim in ``text`` the rules know, settled against ``facts`` where given (``pass`` findings
    record what the facts supported)."""
    found: list[Finding] = []
    found += [_finding("medical", m, "block", "medical") for m in MEDICAL.finditer(text)]
    found += [_finding("efficacy", m, "block", "guarantee") for m in EFFICACY_GUARANTEE.finditer(text)]
    found += [_efficacy(m, facts) for m in EFFICACY_CLAIM.finditer(text)]
    found += [_reference(m, facts) for m in REFERENCE_PRICE.finditer(text)]
    found += [
        _finding("reference_price", m, "block", "other_channel") for m in OTHER_CHANNEL_PRICE.finditer(text)
    ]
    found += [_scarcity(m, facts) for m in SCARCITY.finditer(text)]
    found += [_finding("inducement", m, "block", "paid_review") for m in INDUCEMENT_BANNED.finditer(text)]
    found += [_gift(m, text, facts) for m in INDUCEMENT_GIFT.finditer(text)]
    return found


def _gift(m: re.Match[str], text: str, facts: ClaimFacts | None) -> Finding:
    """A conditional offer passes where the text quotes it inside a published coupon's name (「…」)."""
    for name in facts.offers if facts else ():
        at = text.find(f"「{name}」")
        if name and at >= 0 and at < m.start() and m.end() <= at + len(name) + 1:
            return _finding("inducement", m, "pass", "gift_disclosed")
    return _finding("inducement", m, "flag", "gift")
