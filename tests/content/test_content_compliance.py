"""Advertising-law check on the real ad_law_absolute_words list."""

from __future__ import annotations

from pathlib import Path

from liveloop.content.compliance import ComplianceChecker, default_checker


def test_absolute_claims_are_blocked(data_home: Path) -> None:
    checker = default_checker()
    for text in ("全网第一的精华", "国家级品质，效果最好", "三天即愈，根治痘痘", "销量第一 NO.1"):
        result = checker.check(text)
        assert result.verdict == "block", text
        assert not result.allowed
        assert result.hits and all(h.term in text or h.term.lower() in text.lower() for h in result.hits)
        assert "Advertising Law" in result.reason


def test_soft_terms_are_flagged_and_plain_copy_passes(data_home: Path) -> None:
    checker = default_checker()
    flagged = checker.check("主播推荐这款，很安全")
    assert flagged.verdict == "flag" and {"推荐", "安全"} <= set(flagged.to_dict()["terms"])
    assert checker.check("这款精华补水效果不错，敏感肌也能用").verdict == "pass"
    # 最近 / 最后 are everyday words, not superlative claims
    assert checker.check("最近很多人问，最后一批库存").verdict == "pass"
    assert checker.check("这是最好的面霜").verdict == "block"


def test_checker_handles_empty_and_odd_input() -> None:
    checker = ComplianceChecker(["最佳", "NO.1"])
    assert checker.check("").verdict == "pass"
    assert checker.check("no.1 in town").verdict == "block"  # case-insensitive
    assert ComplianceChecker([]).check("最佳").verdict == "pass"
