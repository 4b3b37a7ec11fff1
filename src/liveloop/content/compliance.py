"""The compliance gate (PRC Advertising Law art. 9, 17, 28 and related) for copy, scripts and auto-replies.

Absolute terms come from the ``ad_law_absolute_words`` data set (a community list of 极限词 / 违禁词). A text
that holds a clear absolute claim (最佳, 第一, 国家级, 根治 …) is **blocked**; one that holds only
an ambiguous or context-dependent term (a lone 最, 推荐, 安全 …) is **flagged** for a human. Nothing
that fails is sent silently: callers show the verdict and the terms found. The claim rules
(medical, efficacy, reference price, scarcity, inducement) live in :mod:`liveloop.content.claims`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from liveloop.content.claims import RULES, ClaimFacts, Finding, find_claims, finding
from liveloop.core.config import Settings
from liveloop.datasets import data_file

#: Terms on the list that are legal in many contexts: found, they flag the text for review.
SOFT_TERMS = frozenset(
    {
        "最",
        "安全",
        "热销",
        "试用",
        "指定",
        "选用",
        "评比",
        "排序",
        "获奖",
        "军队",
        "保险公司",
        "免费赠送",
        "最新",
        "一流",
        "升值",
        "特供",
    }
)
#: Everyday words holding a listed term that claim nothing (最近 = recently, 第一次 = the first time, a
#: friend's 推荐); 抢购 is left to the scarcity rule.
INNOCENT = re.compile(
    r"最近|最后|最终|最初|最早|最晚|最少|最多|第一(?:次|天|眼|回|单|口|时间|印象)|(?<!专家|医生|权威|官方)推荐|抢购"
)


SEVERITY = {"pass": 0, "flag": 1, "block": 2}


@dataclass
class ComplianceResult:
    """The verdict on one text: ``pass``, ``flag`` (needs a human) or ``block`` (must not be sent), with
    every finding (rule, span, message, suggested fix); ``pass`` findings record claims the facts backed."""

    verdict: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.verdict == "pass"

    @property
    def hits(self) -> list[Finding]:
        """The findings that stand (flag or block)."""
        return [f for f in self.findings if f.severity != "pass"]

    @property
    def reason(self) -> str:
        if not self.hits:
            return "no advertising-law problem found"
        worst = [f for f in self.hits if f.severity == self.verdict]
        parts = []
        for rule in dict.fromkeys(f.rule for f in worst):
            terms = ", ".join(sorted({f.term for f in worst if f.rule == rule}))
            parts.append(f"{rule} ({terms}): {RULES[rule][0]}")
        what = "must not be published" if self.verdict == "block" else "needs review"
        return f"{what}: " + "; ".join(parts)

    @property
    def reason_zh(self) -> str:
        if not self.hits:
            return "未发现广告法问题"
        worst = [f for f in self.hits if f.severity == self.verdict]
        parts = []
        for rule in dict.fromkeys(f.rule for f in worst):
            terms = "、".join(sorted({f.term for f in worst if f.rule == rule}))
            parts.append(f"「{terms}」：{RULES[rule][2]}")
        return ("不得发布：" if self.verdict == "block" else "需人工复核：") + "；".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
            "terms": sorted({h.term for h in self.hits}),
            "findings": [f.to_dict() for f in self.findings],
        }


class ComplianceChecker:
    """The absolute-term list (one regular expression, longest term first) plus the claim rules of
    :mod:`liveloop.content.claims`, settled against a product's facts when given."""

    def __init__(self, terms: list[str]):
        self.terms = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(t) for t in self.terms), re.I) if self.terms else None

    @classmethod
    def from_file(cls, path: Path) -> ComplianceChecker:
        return cls(path.read_text(encoding="utf-8").splitlines())

    def absolute_terms(self, text: str) -> list[Finding]:
        if self._re is None:
            return []
        masked = INNOCENT.sub(lambda m: "\0" * len(m.group(0)), text)
        return [
            finding("absolute", m.group(0), m.start(), "flag", "soft")
            if m.group(0) in SOFT_TERMS
            else finding("absolute", m.group(0), m.start(), "block", "absolute")
            for m in self._re.finditer(masked)
        ]

    def check(self, text: str, facts: ClaimFacts | None = None) -> ComplianceResult:
        if not text:
            return ComplianceResult("pass")
        findings = sorted(self.absolute_terms(text) + find_claims(text, facts), key=lambda f: f.start)
        worst = max((SEVERITY[f.severity] for f in findings), default=0)
        return ComplianceResult(next(k for k, v in SEVERITY.items() if v == worst), findings)


@lru_cache(maxsize=4)
def _checker_at(path: Path) -> ComplianceChecker:
    return ComplianceChecker.from_file(path)


def default_checker(settings: Settings | None = None) -> ComplianceChecker:
    """The checker over the ad_law_absolute_words list in LIVELOOP_DATA_HOME (cached)."""
    return _checker_at(data_file("ad_law_absolute_words", "ad_law_absolute_words.txt", settings))


def check_text(
    text: str, settings: Settings | None = None, facts: ClaimFacts | None = None
) -> ComplianceResult:
    return default_checker(settings).check(text, facts)


MAX_LINES = 10_000


def check_lines(
    lines: list[str], *, wh: Any = None, product_id: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Each line's verdict and findings, and the counts per verdict; with ``product_id`` the claims are
    settled against that product's facts (price history, stock, claims on file)."""
    from liveloop.content.facts import one_product
    from liveloop.core.errors import ValidationFailed

    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"at most {MAX_LINES:,} lines per check", field="lines")
    facts = one_product(wh, product_id).claim_facts() if wh is not None and product_id else None
    checker = default_checker(settings)
    out = []
    for text in lines:
        result = checker.check(text, facts)
        out.append({"text": text, **result.to_dict()})
    counts = {v: sum(1 for r in out if r["verdict"] == v) for v in SEVERITY}
    return {"lines": out, **counts, "product_id": product_id}
