"""Copy and script generation, and the advertising-law compliance checker."""

from liveloop.content.compliance import ComplianceChecker, ComplianceResult, check_text, default_checker

__all__ = ["ComplianceChecker", "ComplianceResult", "check_text", "default_checker"]
