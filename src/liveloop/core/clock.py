"""One place to ask for the time, so tests and the simulator can pin it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from liveloop.core.errors import ValidationFailed

#: The range every stored event time must fall in, on every write path (files, API, feedback, live
#: rooms): nothing before 1990, nothing more than a day ahead of now.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def latest() -> datetime:
    """The latest acceptable event time now."""
    return utcnow() + FUTURE_SLACK


def checked_time(value: Any, field: str) -> datetime:
    """``value`` (an aware or naive-UTC datetime, or epoch seconds) as an aware UTC datetime inside
    [``EARLIEST``, now + ``FUTURE_SLACK``]; a clear ``ValidationFailed`` naming ``field`` otherwise."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, datetime):
            moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValidationFailed(f"{field} must be a time (ISO 8601 or epoch seconds)", field=field) from None
    if not EARLIEST <= moment <= latest():
        raise ValidationFailed(
            f"{field} {moment.isoformat()} is out of range (from {EARLIEST.date()} to a day from now)",
            field=field,
        )
    return moment.astimezone(UTC)


def display_time(value: datetime | float | None, zone: str) -> str:
    """A time in the display zone with the zone shown (``2021-12-30 19:34 CST``); ``—`` when missing."""
    from zoneinfo import ZoneInfo

    if value is None:
        return "—"
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
