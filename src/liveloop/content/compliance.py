"""Advertising-law check (PRC Advertising Law art. 9 and related) for copy, scripts and auto-replies.

Terms come from the ``ad_law_absolute_words`` data set (a community list of 极限词 / 违禁词). A text
that holds a clear absolute claim (最佳, 第一, 国家级, 根治 …) is **blocked**; one that holds only
an ambiguous or context-dependent term (a lone 最, 推荐, 安全 …) is **flagged** for a human. Nothing
that fails is sent silently: callers show the verdict and the terms found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from liveloop.core.config import Settings
from liveloop.datasets import data_file

#: Terms on the list that are legal in many contexts: found, they flag the text for review.
SOFT_TERMS = frozenset(
    {
        "最",
        "推荐",
        "安全",
        "热销",
        "抢购",
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
    }
)
#: Everyday words that contain 最 without claiming anything (最近 = recently …).
INNOCENT_ZUI = re.compile(r"最近|最后|最终|最初|最早|最晚|最少|最多")


@dataclass(frozen=True)
class Hit:
    term: str
    start: int
    severity: str  # "block" or "flag"


@dataclass
class ComplianceResult:
    """The verdict on one text: ``pass``, ``flag`` (needs a human) or ``block`` (must not be sent)."""

    verdict: str
    hits: list[Hit] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.verdict == "pass"

    @property
    def reason(self) -> str:
        if not self.hits:
            return "no advertising-law terms found"
        terms = ", ".join(sorted({h.term for h in self.hits}))
        what = "absolute or banned terms" if self.verdict == "block" else "terms that need review"
        return f"{what} (Advertising Law art. 9): {terms}"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "terms": sorted({h.term for h in self.hits})}


class ComplianceChecker:
    """Finds listed terms in a text with one regular expression (longest term first)."""

    def __init__(self, terms: list[str]):
        self.terms = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(t) for t in self.terms), re.I) if self.terms else None

    @classmethod
    def from_file(cls, path: Path) -> ComplianceChecker:
        return cls(path.read_text(encoding="utf-8").splitlines())

    def check(self, text: str) -> ComplianceResult:
        if self._re is None or not text:
            return ComplianceResult("pass")
        masked = INNOCENT_ZUI.sub(lambda m: "\0" * len(m.group(0)), text)
        hits = [
            Hit(m.group(0), m.start(), "flag" if m.group(0) in SOFT_TERMS else "block")
            for m in self._re.finditer(masked)
        ]
        if any(h.severity == "block" for h in hits):
            return ComplianceResult("block", hits)
        return ComplianceResult("flag" if hits else "pass", hits)


@lru_cache(maxsize=4)
def _checker_at(path: Path) -> ComplianceChecker:
    return ComplianceChecker.from_file(path)


def default_checker(settings: Settings | None = None) -> ComplianceChecker:
    """The checker over the ad_law_absolute_words list in LIVELOOP_DATA_HOME (cached)."""
    return _checker_at(data_file("ad_law_absolute_words", "ad_law_absolute_words.txt", settings))


def check_text(text: str, settings: Settings | None = None) -> ComplianceResult:
    return default_checker(settings).check(text)
