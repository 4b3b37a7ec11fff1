"""Message templates: Jinja2 in a sandbox, every variable known before anything is sent, and every text
checked against the advertising law (DESIGN.md §8.5) when the campaign is drafted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from liveloop.content.compliance import check_text
from liveloop.core.errors import ValidationFailed

MAX_TEMPLATE = 5000
#: What a template may use, and what each holds.
VARIABLES = {
    "user_id": "the user's id",
    "name": "the user's name (decrypted at send time; 亲 / there when unknown)",
    "segment": "the user's segment name",
    "top_category": "the category the user buys or looks at most",
    "campaign": "the campaign's name",
    "session_title": "the live session's title (campaigns about a session)",
    "session_start": "the live session's start, in the user's time zone",
    "unsubscribe_url": "the one-click unsubscribe link (added to every message anyway)",
}

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def check(text: str | None, field: str, *, required: bool = True) -> str | None:
    """A clear error for a template that is empty, too long, not Jinja2, names an unknown variable, or
    says what the advertising law forbids; terms that need a human's review come back as a warning
    (the approver sees it)."""
    if text is None or not text.strip():
        if required:
            raise ValidationFailed(f"{field} is empty", field=field)
        return None
    if len(text) > MAX_TEMPLATE:
        raise ValidationFailed(f"{field} is longer than {MAX_TEMPLATE} characters", field=field)
    try:
        names = meta.find_undeclared_variables(_ENV.parse(text))
    except TemplateSyntaxError as exc:
        raise ValidationFailed(
            f"{field}: template error on line {exc.lineno}: {exc.message}", field=field
        ) from exc
    unknown = sorted(names - set(VARIABLES))
    if unknown:
        raise ValidationFailed(
            f"{field} uses unknown variable {unknown[0]!r}; known: {', '.join(VARIABLES)}", field=field
        )
    verdict = check_text(text)
    if verdict.verdict == "block":
        raise ValidationFailed(f"{field} fails the advertising-law check: {verdict.reason}", field=field)
    return f"{field}: {verdict.reason}" if verdict.verdict == "flag" else None


def render(text: str | None, values: Mapping[str, Any]) -> str:
    if not text:
        return ""
    return _ENV.from_string(text).render(**{k: ("" if v is None else v) for k, v in values.items()})
