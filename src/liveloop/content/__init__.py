"""Content studio: selling points from reviews, live scripts, copy per channel, and the compliance gate
every published word passes (DESIGN.md §8.5)."""

from liveloop.content.claims import ClaimFacts, Finding
from liveloop.content.compliance import ComplianceChecker, ComplianceResult, check_text, default_checker

__all__ = ["ClaimFacts", "ComplianceChecker", "ComplianceResult", "Finding", "check_text", "default_checker"]
