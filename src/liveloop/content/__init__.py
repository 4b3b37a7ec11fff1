"""The advertising-law compliance checker (every live Q&A answer passes it)."""

from liveloop.content.compliance import ComplianceChecker, ComplianceResult, check_text, default_checker

__all__ = ["ComplianceChecker", "ComplianceResult", "check_text", "default_checker"]
